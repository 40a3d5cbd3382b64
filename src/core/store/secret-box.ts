import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/**
 * AES-256-GCM for the secrets the gateway keeps in its store (upstream tokens,
 * app secrets it learned), so a store's file or a Redis dump alone gives nothing
 * away. The key comes from configuration (`STORE_SECRET_KEY`); a value sealed
 * under another key, or altered, does not open (`open` answers undefined).
 *
 * Sealed form: `v1.<iv>.<tag>.<ciphertext>`, each part base64url. The store key
 * the value is kept under is bound as additional data, so a sealed value copied
 * to another key does not open there either.
 */
export class SecretBox {
  private readonly key: Buffer;

  /** `key`: any string of at least 16 characters; it is stretched to 256 bits with SHA-256. */
  constructor(key: string) {
    if (key.length < 16) throw new TypeError('SecretBox: expected a key of at least 16 characters');
    this.key = createHash('sha256').update(key, 'utf8').digest();
  }

  seal(plain: string, boundTo: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(boundTo, 'utf8'));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  open(sealed: string, boundTo: string): string | undefined {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || data === undefined) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(boundTo, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
