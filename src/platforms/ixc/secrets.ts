import { redactTree } from '../../core/security/redact.js';

/**
 * Which TR-069 parameter values Switchboard never shows, decided here and only here.
 *
 * IXC ACS returns every parameter's value, including credentials a device holds:
 * Wi-Fi keys (`…WLANConfiguration.1.KeyPassphrase`, `…PreSharedKey.1.PreSharedKey`,
 * `…WEPKey.1.WEPKey`), the PPPoE password (`…WANPPPConnection.1.Password`), the
 * ACS and connection-request passwords (`ManagementServer.Password`,
 * `ManagementServer.ConnectionRequestPassword`), RADIUS secrets, WPS PINs.
 *
 * The rule: a parameter is secret when its last name segment (the leaf), compared
 * case-insensitively, contains `password`, `passwd`, `passphrase`, `passcode`,
 * `secret` or `psk`, or ends with `key` (optionally followed by digits: `WEPKey1`),
 * or is a PIN (`PIN`, `WPSPIN`, `X_…_PIN`). Matching the leaf only keeps the
 * non-secret siblings inside a secret-looking object readable
 * (`…PreSharedKey.1.AssociatedDeviceMACAddress`), and `pass` alone is not enough
 * (`…PassthroughEnable` is not a secret). When in doubt the rule hides: a hidden
 * public value costs less than a shown key.
 *
 * A secret parameter keeps its name, type and writability; its value is `null`
 * and `redacted` is true. Operation results and webhook data are JSON the ACS
 * shapes: in them, every `{name, value}` pair whose name is secret gets the same
 * treatment, and every object key that is itself a secret name gets `null`.
 */
const SECRET_LEAF = /pass(word|wd|phrase|code)|secret|psk|key\d*$|(^|_|wps)pin$/i;

export function isSecretParameter(name: string): boolean {
  const segments = name.split('.').filter((s) => s.length > 0);
  const leaf = segments[segments.length - 1];
  return leaf !== undefined && SECRET_LEAF.test(leaf);
}

/** A copy of ACS-shaped JSON (an operation's result, a webhook's data) with every secret value replaced by null. */
export function redactSecrets<T>(value: T): T {
  return redactTree(value, { isSecret: isSecretParameter, replacement: null, markPairWith: 'redacted' }) as T;
}
