/** The widget module's name and version: the labextension's package name and
 * version (package.json), which the Python models name in `_model_module`. */
export const MODULE_NAME = 'counterfeit-workbench';
export const MODULE_VERSION = '0.1.0';
