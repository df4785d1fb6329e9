import type { ReactNode } from 'react';
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
      {rows && rows.length > 0 ? (
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
              {rows.map((row) => (
                <tr key={row.id}>
                  {columns.map((column) => (
                    <td key={column.header} className={column.className}>
                      {column.cell(row)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
