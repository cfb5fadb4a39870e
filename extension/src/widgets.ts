/**
 * The Jupyter widgets of the investigation map ("explorer"): MapFrame and SiteTable.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';

import { MapFrameModel, MapFrameView } from './mapframe';
import { SiteTableModel, SiteTableView } from './sitetable';
import { MODULE_NAME, MODULE_VERSION } from './version';

/** The widget manager's settings (the same plugin in JupyterLab and Notebook 7). */
const WIDGET_MANAGER = '@jupyter-widgets/jupyterlab-manager:plugin';
const SAVE_STATE = 'saveState';

/**
 * Save widget state in notebooks unless the user chose otherwise.
 *
 * Without it a reopened notebook shows no widget at all until its cells run
 * again: the investigation map would be gone.
 */
async function saveWidgetState(registry: ISettingRegistry): Promise<void> {
  const settings = await registry.load(WIDGET_MANAGER);
  if (settings.user[SAVE_STATE] !== undefined) {
    return; // the user's own choice
  }
  if (settings.composite[SAVE_STATE] === true) {
    return; // already on (an administrator's default)
  }
  console.info(
    'Counterfeit Workbench: turning on "Save Jupyter widget state in notebooks" ' +
      `(${WIDGET_MANAGER} ${SAVE_STATE}) so that a saved investigation notebook ` +
      'shows its last map when reopened; set it in Settings to choose otherwise.'
  );
  await settings.set(SAVE_STATE, true);
}

/**
 * Registers the widget module `counterfeit-workbench` with the widget manager.
 */
export const widgetsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'counterfeit-workbench:widgets',
  description:
    'Jupyter widgets of the Counterfeit Workbench investigation map: MapFrame and SiteTable.',
  autoStart: true,
  requires: [IJupyterWidgetRegistry],
  optional: [ISettingRegistry],
  activate: (
    _app: JupyterFrontEnd,
    widgets: IJupyterWidgetRegistry,
    settings: ISettingRegistry | null
  ): void => {
    widgets.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: { MapFrameModel, MapFrameView, SiteTableModel, SiteTableView }
    });
    if (settings) {
      saveWidgetState(settings).catch(reason => {
        console.warn(
          `Counterfeit Workbench: could not turn on ${WIDGET_MANAGER} ${SAVE_STATE}.`,
          reason
        );
      });
    }
  }
};
