import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../common/api';
import type { SetupApi, SetupStatus } from './api';
import { describeNews } from './status-news';

/** How often the status is asked for while the page is visible: Entra's requests show within seconds. */
export const POLL_INTERVAL_MS = 3_000;

/** Requests the status lists. */
export const RECENT_REQUESTS = 20;

export interface LiveStatus {
  /** The latest answer; undefined until the first one arrives. */
  readonly status?: SetupStatus;
  /** The last poll failed (the network, or the server): the status shown may be stale. */
  readonly stale: boolean;
  /** A sentence for the polite live region when something new arrived, e.g. "Test connection received." */
  readonly announcement: string;
}

/**
 * The directory's live status, asked for every POLL_INTERVAL_MS while the page is visible
 * (document.visibilityState): a hidden tab asks nothing, and asks at once when shown again. A
 * 401 means the link was revoked or expired meanwhile: polling stops and `onRefused` is called.
 */
export function useLiveStatus(api: SetupApi, onRefused: (error: ApiError) => void): LiveStatus {
  const [status, setStatus] = useState<SetupStatus>();
  const [stale, setStale] = useState(false);
  const [announcement, setAnnouncement] = useState('');
  const previous = useRef<SetupStatus | undefined>(undefined);
  const refused = useRef(onRefused);
  refused.current = onRefused;

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    const visible = () => document.visibilityState === 'visible';
    const poll = async () => {
      timer = undefined;
      if (!live || inFlight || !visible()) return;
      inFlight = true;
      try {
        const next = await api.status(RECENT_REQUESTS);
        if (!live) return;
        const news = previous.current ? describeNews(previous.current, next) : '';
        previous.current = next;
        setStatus(next);
        setStale(false);
        if (news) setAnnouncement(news);
      } catch (error) {
        if (!live) return;
        if (error instanceof ApiError && error.status === 401) {
          live = false;
          refused.current(error);
          return;
        }
        setStale(true);
      } finally {
        inFlight = false;
      }
      if (live && visible()) timer = setTimeout(poll, POLL_INTERVAL_MS);
    };
    const onVisibilityChange = () => {
      if (visible()) {
        if (!timer && !inFlight) void poll();
      } else if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
    };
    document.addEventListener('visibilitychange', onVisibilityChange);
    void poll();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibilityChange);
    };
  }, [api]);

  return { status, stale, announcement };
}
