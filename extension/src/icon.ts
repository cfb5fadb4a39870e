import { LabIcon } from '@jupyterlab/ui-components';

import workbenchSvgstr from '../style/icons/workbench.svg';

/**
 * The icon of the launcher tiles and palette items: a price tag under a magnifier.
 */
export const workbenchIcon = new LabIcon({
  name: 'counterfeit-workbench:template',
  svgstr: workbenchSvgstr
});
