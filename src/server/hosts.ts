/**
 * The server's `Host` check (docs/hardening.md §5, docs/server.md "Authentication"). A server
 * without an API key answers only requests whose `Host` header names this machine: a web page on
 * another site could otherwise reach it through DNS rebinding (the page's own name made to
 * resolve to 127.0.0.1, so the browser treats the server as that site and lets the page read the
 * answers). The browser always sends the name the page used, so a name the server does not
 * expect gives such a request away.
 */
import { isIP } from 'node:net';
import { invalidArgument, describe } from '../errors.js';

/** A host name as `--allowed-host` takes it: labels of letters, digits, `-` and `_`, dot-separated. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$/;

/**
 * The host part of a `Host` header, lower-cased, without the port, the IPv6 brackets or a final
 * dot (`localhost.` is `localhost`); undefined when the header is not `host[:port]`.
 */
export function hostOfHeader(header: string): string | undefined {
  let h = header.trim().toLowerCase();
  let host: string;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    host = h.slice(1, end);
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return isIP(host) === 6 ? host : undefined;
  }
  const colon = h.lastIndexOf(':');
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(h.slice(colon + 1))) return undefined;
    h = h.slice(0, colon);
  }
  host = h.endsWith('.') ? h.slice(0, -1) : h;
  return isIP(host) === 4 || HOST_NAME.test(host) ? host : undefined;
}

/** `localhost`, `*.localhost`, 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z): this machine by definition. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1'
    || (isIP(host) === 4 && host.startsWith('127.')) || /^::ffff:127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The names a key-less server answers besides loopback and IP addresses: the host it listens on
 * and `allowedHosts`, checked and normalised (`--allowed-host NAME`: a host name or an IP address,
 * no scheme, no port).
 */
export function checkAllowedHosts(list: unknown): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw invalidArgument(`allowedHosts: expected an array of host names, got ${describe(list)}`);
  return list.map((x, i) => {
    const bare = typeof x === 'string' ? x.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '') : undefined;
    if (bare === undefined || (isIP(bare) === 0 && !HOST_NAME.test(bare))) {
      throw invalidArgument(`allowedHosts[${i}] (--allowed-host): expected a host name such as myhost.example or an IP address (no scheme, no port), got ${describe(x)}`);
    }
    return bare;
  });
}

/**
 * Whether a key-less server answers a request with this `Host` header. Answered: loopback names
 * and addresses, any IP address (a rebinding page reaches the server only under a name it
 * controls, never as an address: the browser sends the name), the host the server listens on,
 * and the allowed names. A request without `Host` is not a browser's (HTTP/1.1 browsers always
 * send it) and is answered.
 */
export function hostAnswered(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (header === undefined) return true;
  const host = hostOfHeader(header);
  if (host === undefined) return false;
  return isLoopbackHost(host) || isIP(host) !== 0 || allowed.has(host);
}

/** The 403 message: the Host that came, and the two ways to be answered. */
export function forbiddenHostMessage(header: string): string {
  const host = hostOfHeader(header);
  const flag = host === undefined ? '--allowed-host NAME' : `--allowed-host ${host}`;
  return `host: this server has no API key, so it answers only requests for localhost, a loopback or IP address, `
    + `its --host or an --allowed-host name (a web page could otherwise reach it through DNS rebinding); got Host ${JSON.stringify(header.length > 100 ? `${header.slice(0, 99)}…` : header)}. `
    + `To serve this name, start it with ${flag} (allowedHosts in createServer), or set an API key (--api-key)`;
}
