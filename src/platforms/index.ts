import type { PlatformModule } from '../core/platform.js';
import { cloudlx } from './cloudlx/index.js';
import { exotel } from './exotel/index.js';
import { ixc } from './ixc/index.js';
import { cloudcix } from './cloudcix/index.js';

/**
 * The platforms this gateway serves: the one place that names them all. Adding a
 * platform is a folder under `src/platforms/` and one entry here.
 */
export const platforms = [cloudlx, exotel, ixc, cloudcix] as const;

type Platforms = (typeof platforms)[number];
export type PlatformKey = Platforms['key'];

type ModuleOf<K extends PlatformKey> = Extract<Platforms, { key: K }>;
export type PlatformConfigs = { [K in PlatformKey]: ModuleOf<K> extends PlatformModule<K, infer C, any, any> ? C : never };
export type PlatformClients = { [K in PlatformKey]: ModuleOf<K> extends PlatformModule<K, any, infer C, any> ? C : never };
export type PlatformScopes = { [K in PlatformKey]: ModuleOf<K> extends PlatformModule<K, any, any, infer S> ? S : never };
