/** The widget module's name and version: the labextension's package name and
 * version, read from package.json at build time (written there once), which the Python
 * models name in `_model_module` and `_model_module_version`. */
declare const require: (path: string) => { name: string; version: string };

const pkg = require('../package.json');

export const MODULE_NAME: string = pkg.name;
export const MODULE_VERSION: string = pkg.version;
