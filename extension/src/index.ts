import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { createFromTemplate, ITemplateInfo, listTemplates } from './api';
import { workbenchIcon } from './icon';
import { widgetsPlugin } from './widgets';

/** Launcher and command-palette category of every workbench item. */
const CATEGORY = 'Counterfeit Workbench';

/** Where the section sits: after Notebook (0), before Console (20) and Other (100). */
const CATEGORY_RANK = 10;

/** The one command: new notebook from a template, args `{name, title}`. */
const COMMAND = 'workbench:new-from-template';

/**
 * The folder a new notebook goes to: the launcher's `cwd` when it passes one,
 * else the default file browser's current folder, else the server root.
 */
function targetFolder(
  args: ReadonlyPartialJSONObject,
  browser: IDefaultFileBrowser | null
): string {
  if (typeof args.cwd === 'string') {
    return args.cwd;
  }
  return browser?.model.path ?? '';
}

/**
 * Register the command that copies a template and opens the copy.
 */
function addCommand(
  app: JupyterFrontEnd,
  browser: IDefaultFileBrowser | null,
  templates: Map<string, ITemplateInfo>
): void {
  app.commands.addCommand(COMMAND, {
    label: args => String(args.title ?? args.name ?? 'New from template'),
    caption: args =>
      templates.get(String(args.name ?? ''))?.description ||
      String(args.title ?? ''),
    icon: workbenchIcon,
    describedBy: {
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'Template name' },
          title: { type: 'string', description: 'Label shown to the user' },
          cwd: { type: 'string', description: 'Folder for the new notebook' }
        },
        required: ['name']
      }
    },
    execute: async args => {
      const name = String(args.name ?? '');
      const title = String(args.title ?? name);
      try {
        const model = await createFromTemplate(
          name,
          targetFolder(args, browser)
        );
        return await app.commands.execute('docmanager:open', {
          path: model.path
        });
      } catch (error) {
        await showErrorMessage(`Could not create "${title}"`, error as Error);
        return undefined;
      }
    }
  });
}

/**
 * Add one launcher tile and one palette item per template.
 */
function addItems(
  templates: ITemplateInfo[],
  launcher: ILauncher | null,
  palette: ICommandPalette | null
): void {
  templates.forEach((template, rank) => {
    const args = { name: template.name, title: template.title };
    launcher?.add({
      command: COMMAND,
      args,
      category: CATEGORY,
      categoryRank: CATEGORY_RANK,
      rank
    });
    palette?.addItem({ command: COMMAND, args, category: CATEGORY, rank });
  });
}

/**
 * Launcher tiles and palette commands for Counterfeit Workbench templates.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'counterfeit-workbench:plugin',
  description:
    'Open Counterfeit Workbench investigation templates from the launcher.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    browser: IDefaultFileBrowser | null
  ): void => {
    const templates = new Map<string, ITemplateInfo>();
    addCommand(app, browser, templates);
    listTemplates()
      .then(list => {
        list.forEach(template => templates.set(template.name, template));
        addItems(list, launcher, palette);
      })
      .catch(reason => {
        console.error('Counterfeit Workbench: could not list templates.', reason);
      });
  }
};

export default [plugin, widgetsPlugin];
