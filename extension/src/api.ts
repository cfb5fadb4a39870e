import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * One investigation template, as listed by `GET {base}/workbench/templates`.
 */
export interface ITemplateInfo {
  /** Identifier used in URLs: the notebook's file stem. */
  name: string;
  /** Human title, shown as the launcher tile label. */
  title: string;
  /** One-line description, shown as the tile's tooltip. */
  description: string;
  /** Suggested file name of a new notebook made from the template. */
  filename: string;
}

/**
 * The part of a Jupyter contents model the frontend needs.
 */
export interface IContentsModel {
  path: string;
  name: string;
}

/**
 * Call the workbench server extension; reject with a readable Error on failure.
 *
 * ServerConnection sends Jupyter's token and XSRF cookie with the request.
 */
async function requestAPI<T>(
  parts: string[],
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(
    settings.baseUrl,
    'workbench',
    'templates',
    ...parts.map(encodeURIComponent)
  );
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      data !== null && typeof data === 'object' && 'message' in data
        ? String((data as { message: unknown }).message)
        : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return data as T;
}

/**
 * Fetch the list of investigation templates the server offers.
 */
export function listTemplates(): Promise<ITemplateInfo[]> {
  return requestAPI<ITemplateInfo[]>([]);
}

/**
 * Ask the server to copy template `name` into `folder` under a fresh file name.
 *
 * @param name - the template's name.
 * @param folder - folder relative to the server root ('' for the root).
 * @returns the contents model of the new notebook.
 */
export function createFromTemplate(
  name: string,
  folder: string
): Promise<IContentsModel> {
  return requestAPI<IContentsModel>([name, 'new'], {
    method: 'POST',
    body: JSON.stringify({ path: folder })
  });
}
