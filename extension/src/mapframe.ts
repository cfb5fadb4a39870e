/**
 * MapFrame: a map page in a sandboxed iframe, with a checked message channel
 * between the page and the kernel.
 *
 * The page runs with `sandbox="allow-scripts"` only, so its origin is opaque:
 * it cannot read JupyterLab's DOM, cookies or storage. It talks to the kernel
 * by `parent.postMessage(event, '*')`; the view accepts a message only when it
 * comes from this view's own frame and looks like one of the allowed events.
 * The kernel talks to the page by custom widget messages, which the view posts
 * into the frame once the page has said it is ready.
 */

import { DOMWidgetModel, DOMWidgetView } from '@jupyter-widgets/base';

import { MODULE_NAME, MODULE_VERSION } from './version';

/** Event types a map page may send to the kernel. */
export const EVENT_TYPES: ReadonlySet<string> = new Set([
  'ready',
  'site-click',
  'point-click',
  'draw',
  'draw-clear',
  'view'
]);

/** Largest event forwarded to the kernel, in bytes of its JSON. */
export const MAX_EVENT_BYTES = 1_000_000;

/** Most kernel commands kept while the page is not ready; older ones are dropped. */
const MAX_QUEUED = 256;

const FRAME_TITLE = 'Counterfeit Workbench map';
const EMPTY_TEXT = 'No map to show yet.';

type JSONEvent = { [key: string]: unknown; type: string };

/**
 * The event as a plain JSON copy, or null when it is not an allowed event:
 * a plain object with a `type` from {@link EVENT_TYPES}, at most
 * {@link MAX_EVENT_BYTES} of JSON. The kernel checks the fields.
 */
export function acceptEvent(data: unknown): JSONEvent | null {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return null;
  }
  const proto = Object.getPrototypeOf(data);
  if (proto !== Object.prototype && proto !== null) {
    return null;
  }
  const type = (data as { type?: unknown }).type;
  if (typeof type !== 'string' || !EVENT_TYPES.has(type)) {
    return null;
  }
  let text: string;
  try {
    text = JSON.stringify(data);
  } catch {
    return null; // cycles, BigInt
  }
  // UTF-8 never takes fewer bytes than UTF-16 code units: skip encoding huge texts
  if (
    text.length > MAX_EVENT_BYTES ||
    new TextEncoder().encode(text).length > MAX_EVENT_BYTES
  ) {
    return null;
  }
  return JSON.parse(text) as JSONEvent;
}

export class MapFrameModel extends DOMWidgetModel {
  defaults(): { [key: string]: unknown } {
    return {
      ...super.defaults(),
      _model_name: 'MapFrameModel',
      _model_module: MODULE_NAME,
      _model_module_version: MODULE_VERSION,
      _view_name: 'MapFrameView',
      _view_module: MODULE_NAME,
      _view_module_version: MODULE_VERSION,
      html: '',
      height_px: 600
    };
  }

  static serializers = { ...DOMWidgetModel.serializers };
}

export class MapFrameView extends DOMWidgetView {
  /** The frame of the current page; null while `html` is empty. */
  private frame: HTMLIFrameElement | null = null;
  /** The current page has sent `ready` since it last loaded. */
  private ready = false;
  /** Kernel commands waiting for the page to be ready. */
  private queue: unknown[] = [];
  private readonly onWindowMessage = (event: MessageEvent): void => {
    this.receive(event);
  };

  render(): void {
    this.el.classList.add('workbench-mapframe');
    window.addEventListener('message', this.onWindowMessage);
    this.listenTo(this.model, 'change:html', this.load);
    this.listenTo(this.model, 'change:height_px', this.resize);
    this.listenTo(this.model, 'msg:custom', this.command);
    this.load();
  }

  remove(): any {
    window.removeEventListener('message', this.onWindowMessage);
    this.queue = [];
    this.frame = null;
    return super.remove();
  }

  processLuminoMessage(
    msg: Parameters<DOMWidgetView['processLuminoMessage']>[0]
  ): void {
    super.processLuminoMessage(msg);
    // a frame taken out of the document unloads its page, and reloads it when
    // put back: wait for the reloaded page's `ready`
    if (msg.type === 'before-detach') {
      this.ready = false;
    }
  }

  /** Show the model's page in a new frame (a new window, so stale messages from
   * the previous page can never pass as the new page's). */
  private load(): void {
    const html = String(this.model.get('html') ?? '');
    this.ready = false;
    this.frame = null;
    this.el.replaceChildren();
    if (!html) {
      const empty = document.createElement('div');
      empty.className = 'workbench-mapframe-empty';
      empty.textContent = EMPTY_TEXT;
      this.el.appendChild(empty);
      return;
    }
    const frame = document.createElement('iframe');
    // sandbox before the frame navigates: the flags apply from its first page.
    // Never allow-same-origin: with it the page could reach JupyterLab.
    frame.setAttribute('sandbox', 'allow-scripts');
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.title = FRAME_TITLE;
    // workbench-map: the class of every map frame (also MapView's static one)
    frame.className = 'workbench-map workbench-mapframe-iframe';
    frame.srcdoc = html;
    this.frame = frame;
    this.resize();
    this.el.appendChild(frame);
  }

  private resize(): void {
    const height = Number(this.model.get('height_px'));
    if (this.frame) {
      const px = Number.isFinite(height) && height > 0 ? height : 600;
      this.frame.style.height = `${px}px`;
    }
  }

  /** A window message: forward it to the kernel if it is an event of our page. */
  private receive(event: MessageEvent): void {
    const target = this.frame?.contentWindow;
    if (!target || event.source !== target) {
      return;
    }
    const data = acceptEvent(event.data);
    if (!data) {
      return;
    }
    if (data.type === 'ready') {
      this.ready = true;
      this.flush();
    }
    this.send(data);
  }

  /** A command from the kernel for the page. */
  private command(content: unknown): void {
    this.queue.push(content);
    if (this.queue.length > MAX_QUEUED) {
      this.queue.splice(0, this.queue.length - MAX_QUEUED);
    }
    this.flush();
  }

  private flush(): void {
    const target = this.frame?.contentWindow;
    if (!target) {
      this.ready = false;
      return;
    }
    if (!this.ready) {
      return;
    }
    const pending = this.queue;
    this.queue = [];
    for (const content of pending) {
      // '*': the sandboxed page's origin is opaque ("null"), so no other target
      // origin matches it; the frame is ours and so is the content
      target.postMessage(content, '*');
    }
  }
}
