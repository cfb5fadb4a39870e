/**
 * SiteTable: the candidate sites as a table with sortable columns and one
 * selectable row.
 *
 * The kernel sorts: a header click only sets `sort_by` / `descending`, and the
 * rows come back in their new order. Every cell is written with `textContent`:
 * names and addresses come from marketplace data and may be hostile.
 */

import { DOMWidgetModel, DOMWidgetView } from '@jupyter-widgets/base';

import { MODULE_NAME, MODULE_VERSION } from './version';

/** One column: the row key it shows, its header, whether it holds numbers. */
export interface IColumn {
  key: string;
  label?: string;
  numeric?: boolean;
}

type Row = { [key: string]: unknown };

const SELECTED = 'workbench-row-selected';
const MISSING = '—';
/** Attributes whose change rebuilds the table; `selected` alone only moves the mark. */
const LAYOUT_ATTRS = ['rows', 'columns', 'sort_by', 'descending'];

const integers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimals = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 1,
  maximumFractionDigits: 1
});

/**
 * The text of one cell: integers with thousands separators, other numbers with
 * one decimal, arrays joined with ", ", nothing (null, undefined, NaN) as "—".
 */
export function formatCell(value: unknown): string {
  if (value === null || value === undefined) {
    return MISSING;
  }
  if (typeof value === 'number') {
    if (Number.isNaN(value)) {
      return MISSING;
    }
    return Number.isInteger(value)
      ? integers.format(value)
      : decimals.format(value);
  }
  if (typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map(formatCell).join(', ');
  }
  if (typeof value === 'boolean') {
    return value ? 'yes' : 'no';
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function columnsOf(value: unknown): IColumn[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value
    .filter(
      (column): column is IColumn =>
        column !== null &&
        typeof column === 'object' &&
        typeof column.key === 'string'
    )
    .map(column => ({
      key: column.key,
      label: typeof column.label === 'string' ? column.label : column.key,
      numeric: Boolean(column.numeric)
    }));
}

function rowsOf(value: unknown): Row[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter(
    (row): row is Row =>
      row !== null && typeof row === 'object' && !Array.isArray(row)
  );
}

export class SiteTableModel extends DOMWidgetModel {
  defaults(): { [key: string]: unknown } {
    return {
      ...super.defaults(),
      _model_name: 'SiteTableModel',
      _model_module: MODULE_NAME,
      _model_module_version: MODULE_VERSION,
      _view_name: 'SiteTableView',
      _view_module: MODULE_NAME,
      _view_module_version: MODULE_VERSION,
      columns: [],
      rows: [],
      sort_by: 'score',
      descending: true,
      selected: '',
      max_height_px: 320
    };
  }

  static serializers = { ...DOMWidgetModel.serializers };
}

export class SiteTableView extends DOMWidgetView {
  private scroller!: HTMLDivElement;
  private table!: HTMLTableElement;
  private body!: HTMLTableSectionElement;

  render(): void {
    this.el.classList.add('workbench-site-table-widget');
    this.scroller = document.createElement('div');
    this.scroller.className = 'workbench-site-table-scroll';
    this.table = document.createElement('table');
    this.table.className = 'workbench-site-table';
    this.scroller.appendChild(this.table);
    this.el.appendChild(this.scroller);
    this.table.addEventListener('click', event => this.onClick(event));
    this.table.addEventListener('keydown', event => this.onKey(event));
    this.listenTo(this.model, 'change', this.onChange);
    this.build();
  }

  private onChange(): void {
    const changed = Object.keys(this.model.changedAttributes() || {});
    if (changed.some(name => LAYOUT_ATTRS.includes(name))) {
      this.build();
    } else {
      if (changed.includes('max_height_px')) {
        this.setHeight();
      }
      if (changed.includes('selected')) {
        this.markSelected();
      }
    }
  }

  /** Rebuild header and rows, keeping keyboard focus on the same header or row. */
  private build(): void {
    const focus = this.focusedKey();
    const columns = columnsOf(this.model.get('columns'));
    const sortBy = String(this.model.get('sort_by') ?? '');
    const descending = Boolean(this.model.get('descending'));

    const head = document.createElement('thead');
    const headRow = head.insertRow();
    for (const column of columns) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.dataset.key = column.key;
      if (column.numeric) {
        th.classList.add('workbench-numeric');
      }
      const sorted = column.key === sortBy;
      th.setAttribute(
        'aria-sort',
        sorted ? (descending ? 'descending' : 'ascending') : 'none'
      );
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = column.label ?? column.key;
      th.appendChild(button);
      headRow.appendChild(th);
    }

    const body = document.createElement('tbody');
    for (const row of rowsOf(this.model.get('rows'))) {
      const tr = body.insertRow();
      tr.dataset.siteId = String(row.site_id ?? '');
      tr.tabIndex = 0;
      if (row.label === 'hub') {
        tr.classList.add('workbench-row-hub');
      }
      for (const column of columns) {
        const td = tr.insertCell();
        td.textContent = formatCell(row[column.key]);
        if (column.numeric) {
          td.classList.add('workbench-numeric');
        }
      }
    }

    this.table.replaceChildren(head, body);
    this.body = body;
    this.setHeight();
    this.markSelected();
    this.restoreFocus(focus);
  }

  private setHeight(): void {
    const height = Number(this.model.get('max_height_px'));
    this.scroller.style.maxHeight =
      Number.isFinite(height) && height > 0 ? `${height}px` : '';
  }

  /** Mark the selected row and scroll it into the table's view. */
  private markSelected(): void {
    const selected = String(this.model.get('selected') ?? '');
    let found: HTMLTableRowElement | null = null;
    for (const tr of Array.from(this.body.rows)) {
      const on = selected !== '' && tr.dataset.siteId === selected;
      tr.classList.toggle(SELECTED, on);
      tr.setAttribute('aria-selected', on ? 'true' : 'false');
      if (on && !found) {
        found = tr;
      }
    }
    if (found) {
      this.scrollToRow(found);
    }
  }

  /**
   * `scrollIntoView({block: 'nearest'})` within the table's own scroll box.
   * The native call would also scroll the notebook, so picking a site on the
   * map would pull the notebook away from the map.
   */
  private scrollToRow(tr: HTMLTableRowElement): void {
    const box = this.scroller.getBoundingClientRect();
    const rect = tr.getBoundingClientRect();
    if (box.height === 0) {
      return; // not laid out (hidden or detached)
    }
    const header = this.table.tHead?.getBoundingClientRect().height ?? 0;
    const top = rect.top - box.top + this.scroller.scrollTop;
    const bottom = top + rect.height;
    const visibleTop = this.scroller.scrollTop + header;
    const visibleBottom = this.scroller.scrollTop + this.scroller.clientHeight;
    if (top < visibleTop) {
      this.scroller.scrollTop = top - header;
    } else if (bottom > visibleBottom) {
      this.scroller.scrollTop = bottom - this.scroller.clientHeight;
    }
  }

  private onClick(event: MouseEvent): void {
    const target = event.target as Element | null;
    const th = target?.closest('th[data-key]') as HTMLElement | null;
    if (th && target?.closest('button')) {
      this.sortBy(th.dataset.key ?? '');
      return;
    }
    const tr = target?.closest('tr[data-site-id]') as HTMLElement | null;
    if (tr && this.body.contains(tr)) {
      this.select(tr.dataset.siteId ?? '');
    }
  }

  private onKey(event: KeyboardEvent): void {
    const tr = (event.target as Element | null)?.closest(
      'tr[data-site-id]'
    ) as HTMLTableRowElement | null;
    if (!tr || !this.body.contains(tr) || event.target !== tr) {
      return;
    }
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      this.select(tr.dataset.siteId ?? '');
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const next =
        event.key === 'ArrowDown'
          ? tr.nextElementSibling
          : tr.previousElementSibling;
      if (next instanceof HTMLElement) {
        event.preventDefault();
        next.focus();
      }
    }
  }

  /** Same column: flip the direction; another: sort by it, numbers largest first. */
  private sortBy(key: string): void {
    if (!key) {
      return;
    }
    if (key === this.model.get('sort_by')) {
      this.model.set('descending', !this.model.get('descending'));
    } else {
      const column = columnsOf(this.model.get('columns')).find(
        c => c.key === key
      );
      this.model.set({ sort_by: key, descending: Boolean(column?.numeric) });
    }
    this.model.save_changes();
  }

  private select(siteId: string): void {
    if (!siteId) {
      return;
    }
    this.model.set('selected', siteId);
    this.model.save_changes();
  }

  /** Which header (`th:KEY`) or row (`tr:ID`) of this table has the focus. */
  private focusedKey(): string | null {
    const active = document.activeElement;
    if (!active || !this.table.contains(active)) {
      return null;
    }
    const th = active.closest('th[data-key]') as HTMLElement | null;
    if (th) {
      return `th:${th.dataset.key}`;
    }
    const tr = active.closest('tr[data-site-id]') as HTMLElement | null;
    return tr ? `tr:${tr.dataset.siteId}` : null;
  }

  private restoreFocus(key: string | null): void {
    if (!key) {
      return;
    }
    const [kind, value] = [key.slice(0, 2), key.slice(3)];
    const found =
      kind === 'th'
        ? Array.from(this.table.querySelectorAll<HTMLElement>('th[data-key]'))
            .find(th => th.dataset.key === value)
            ?.querySelector('button')
        : Array.from(this.body.rows).find(tr => tr.dataset.siteId === value);
    found?.focus({ preventScroll: true });
  }
}
