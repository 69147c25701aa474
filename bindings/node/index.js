'use strict';
// Waymark SDK for Node.js (Electron and web-kiosk front ends): a thin layer over the C ABI through a
// Node-API addon. Errors are WaymarkError with `status` (number) and `code` (e.g. 'ERR_JUNK_IDENTIFIER');
// DROPPED_NO_CONSENT is returned, not thrown. flush() returns a Promise and never blocks the event loop.
const path = require('node:path');

const native = require(process.env.WAYMARK_NODE_ADDON || path.join(__dirname, 'build', 'waymark.node'));

const freeze = (o) => Object.freeze(o);
const Status = freeze({
  OK: 0, DROPPED_NO_CONSENT: 1, STORE_RECOVERED: 2, ERR_INVALID_ARGUMENT: -1, ERR_CLOSED: -2, ERR_NO_MEMORY: -3,
  ERR_INVALID_UTF8: -4, ERR_TOO_LARGE: -5, ERR_JUNK_IDENTIFIER: -6, ERR_INVALID_IDENTIFIER: -7,
  ERR_INVALID_VALUE: -8, ERR_UNKNOWN_CURRENCY: -9, ERR_STORE_IO: -10, ERR_STORE_FULL: -11, ERR_KEYSTORE: -12,
  ERR_CRYPTO: -13, ERR_TIMEOUT: -14, ERR_NO_CUSTOMER: -15, ERR_QUEUE_FULL: -16, ERR_NOT_ALLOWED: -17,
  ERR_INTERNAL: -18, ERR_NETWORK: -19, ERR_REJECTED: -20,
});
const EventType = freeze({ TRACK: 1, SCREEN: 3, PURCHASE: 4, CUSTOM: 6 });
const Channel = freeze({
  UNKNOWN: 0, APP: 1, WEB: 2, KIOSK: 3, ATM: 4, POS: 5, CALL_CENTRE: 6, EMAIL: 7, SMS: 8, PUSH: 9, OTHER: 10,
  IVR: 11, DISPLAY: 12, VIDEO: 13, SOCIAL: 14, TV: 15, RADIO: 16, PRINT: 17,
});
const Purpose = freeze({ ANALYTICS: 1, PERSONALISATION: 2, ADVERTISING: 3 });
const IdKind = freeze({
  EMAIL: 1, PHONE: 2, FIRST_NAME: 3, LAST_NAME: 4, POSTCODE: 5, ADDRESS: 6, LOYALTY_ID: 7, ACCOUNT_ID: 8,
  DEVICE_ID: 9, COOKIE_ID: 10, CUSTOM: 11,
});
const DeviceMode = freeze({ PERSONAL: 0, SHARED: 1 });
const Durability = freeze({ ASYNC: 0, DURABLE: 1 });
const Stat = freeze({
  QUEUED: 1, BYTES: 2, DROPPED: 3, REFUSED: 4, EVICTED: 5, UNREADABLE: 6, PURGED: 7, UPLOADED: 8, DEAD_LETTERED: 9, REJECTED: 10,
});

class WaymarkError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'WaymarkError';
    this.status = status;
    this.code = code;
  }
}

// The addon throws (and rejects with) plain Errors carrying status and code; give them their class.
function typed(e) {
  return e && typeof e.status === 'number' && !(e instanceof WaymarkError) ? new WaymarkError(e.status, e.code, e.message) : e;
}

function call(fn) {
  try {
    return fn();
  } catch (e) {
    throw typed(e);
  }
}

function member(values, value, what) {
  if (!Object.values(values).includes(value)) throw new TypeError(`${what} must be one of ${Object.keys(values).join(', ')}`);
  return value;
}

function checkEvent(event) {
  if (event === null || typeof event !== 'object') throw new TypeError('event must be an object');
  member(EventType, event.type, 'event.type');
  if (event.channel !== undefined) member(Channel, event.channel, 'event.channel');
  if (event.purpose !== undefined) member(Purpose, event.purpose, 'event.purpose');
}

class Client {
  /**
   * Opens a client. options: storePath, appId, brandKey (32-byte Buffer), keyEpoch, deviceMode, durability,
   * childMode, defaultRegion, collectorUrl, collectorKeys (Map or [[id, key]]), retryPolicy [base, cap,
   * connect, io] (ms).
   */
  constructor(options) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const o = { ...options };
    if (o.collectorKeys instanceof Map) o.collectorKeys = [...o.collectorKeys.entries()];
    if (o.deviceMode !== undefined) member(DeviceMode, o.deviceMode, 'deviceMode');
    if (o.durability !== undefined) member(Durability, o.durability, 'durability');
    if (o.childMode !== undefined) o.childMode = o.childMode ? 1 : 0;
    const opened = call(() => native.open(o));
    this._handle = opened.handle;
    this.recovered = opened.recovered;
  }

  close() { call(() => native.close(this._handle)); }

  [Symbol.dispose]() { this.close(); }

  /** Records an event: Status.OK, or Status.DROPPED_NO_CONSENT when its purpose is not consented. */
  record(event) {
    checkEvent(event);
    return call(() => native.record(this._handle, event));
  }

  /**
   * Records up to 1000 events as one unit (durable: one commit for all) and returns each one's status
   * (OK, or DROPPED_NO_CONSENT: not stored). On an error it throws and none of them is stored.
   */
  recordBatch(events) {
    if (!Array.isArray(events)) throw new TypeError('events must be an array');
    events.forEach(checkEvent);
    return call(() => native.recordBatch(this._handle, events));
  }

  identify(kind, value) { return call(() => native.identify(this._handle, member(IdKind, kind, 'kind'), value)); }

  /** identify() with the identity assertion (Uint8Array) the brand's backend signed at login for this
   * identifier and this device's key (deviceKey()); the collector checks it (docs/security.md). */
  identifyVerified(kind, value, assertion) {
    return call(() => native.identifyVerified(this._handle, member(IdKind, kind, 'kind'), value, assertion));
  }

  /** This device's Ed25519 public key (a 32-byte Buffer), which identity assertions name. */
  deviceKey() { return call(() => native.deviceKey(this._handle)); }

  setConsent(purpose, granted, policyVersion = '1') {
    return call(() => native.setConsent(this._handle, member(Purpose, purpose, 'purpose'), granted, policyVersion));
  }

  getConsent(purpose) { return call(() => native.getConsent(this._handle, member(Purpose, purpose, 'purpose'))); }

  beginCustomer() { call(() => native.beginCustomer(this._handle)); }

  endCustomer() { call(() => native.endCustomer(this._handle)); }

  /** Erases what this device sent of the current customer; with the erasure token (Uint8Array) the
   * brand's backend signed, the whole customer on every device. */
  forget(erasureToken) {
    if (erasureToken === undefined) call(() => native.forget(this._handle));
    else call(() => native.forgetWithToken(this._handle, erasureToken));
  }

  /** Resolves once everything recorded so far is stored (and acknowledged by the collector, if any). */
  async flush(timeoutMs = 30000) {
    try {
      await native.flush(this._handle, timeoutMs);
    } catch (e) {
      throw typed(e);
    }
  }

  stat(stat) { return call(() => native.stat(this._handle, member(Stat, stat, 'stat'))); }

  stats() {
    return Object.fromEntries(Object.entries(Stat).map(([name, id]) => [name.toLowerCase(), this.stat(id)]));
  }
}

module.exports = {
  Client, WaymarkError, Status, EventType, Channel, Purpose, IdKind, DeviceMode, Durability, Stat,
  version: () => native.version(),
};
