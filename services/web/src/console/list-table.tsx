import { Fragment, type ReactNode, useState } from 'react';
import { ErrorAlert } from '../common/ui';

/** One column of a ListTable: its header (read out only, when `hidden`) and what each row shows in it. */
export interface Column<T> {
  readonly header: string;
  readonly hidden?: boolean;
  readonly className?: string;
  readonly cell: (row: T) => ReactNode;
}

/** A list the admin API answered (`{data: [...]}`), as useLoad holds it. */
export interface LoadedList<T> {
  readonly data?: { readonly data: readonly T[] };
  readonly error?: unknown;
  readonly loading: boolean;
}

/**
 * A console list in each of its states: failed (the API's words), loading (the first time only,
 * so a refresh does not flash), empty (what to do about it) and the table itself.
 */
export function ListTable<T extends { readonly id: string }>({
  list,
  loadingText,
  empty,
  caption,
  columns,
  showError = true,
}: {
  list: LoadedList<T>;
  loadingText: string;
  empty: ReactNode;
  /** Names the table for screen readers when no heading right above does. */
  caption?: string;
  columns: readonly Column<T>[];
  /** False when the page already shows the load's error elsewhere. */
  showError?: boolean;
}) {
  const rows = list.data?.data;
  return (
    <>
      {showError ? <ErrorAlert error={list.error} /> : null}
      {list.loading && !rows ? <p className="hint">{loadingText}</p> : null}
      {rows && rows.length === 0 ? <p className="empty">{empty}</p> : null}
      {rows && rows.length > 0 ? <Table rows={rows} columns={columns} caption={caption} /> : null}
    </>
  );
}

/** What a row shows below itself when opened: the element's id (for the opener's aria-controls) and its content. */
export interface RowDetail {
  readonly id: string;
  readonly content: ReactNode;
}

/** The table itself: a header row from the columns, a row per item, and under each an opened row's details across every column. */
export function Table<T extends { readonly id: string }>({
  rows,
  columns,
  caption,
  detail,
}: {
  rows: readonly T[];
  columns: readonly Column<T>[];
  caption?: string;
  /** The details of an opened row, or undefined while it is closed. */
  detail?: (row: T) => RowDetail | undefined;
}) {
  return (
    <div className="table-wrap">
      <table>
        {caption ? <caption className="visually-hidden">{caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column.header}>
                {column.hidden ? <span className="visually-hidden">{column.header}</span> : column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const opened = detail?.(row);
            return (
              <Fragment key={row.id}>
                <tr>
                  {columns.map((column) => (
                    <td key={column.header} className={column.className}>
                      {column.cell(row)}
                    </td>
                  ))}
                </tr>
                {opened ? (
                  <tr id={opened.id} className="expanded">
                    <td colSpan={columns.length}>{opened.content}</td>
                  </tr>
                ) : null}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/**
 * Which rows of a Table are opened: a button per row that opens and closes its details (named
 * for screen readers by `name`, tied to them by aria-controls), and the details of the open ones.
 */
export function useOpenRows(idPrefix: string) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const detailId = (id: string) => `${idPrefix}-${id}`;
  const toggle = (id: string) =>
    setOpen((was) => {
      const next = new Set(was);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return {
    closeAll: () => setOpen(new Set()),
    button: (id: string, labels: { readonly closed: string; readonly opened: string }, name: ReactNode, className = 'secondary') => (
      <button type="button" className={className} aria-expanded={open.has(id)} aria-controls={detailId(id)} onClick={() => toggle(id)}>
        {open.has(id) ? labels.opened : labels.closed}
        <span className="visually-hidden"> {name}</span>
      </button>
    ),
    detail: (id: string, content: () => ReactNode): RowDetail | undefined => (open.has(id) ? { id: detailId(id), content: content() } : undefined),
  };
}
