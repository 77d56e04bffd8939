/** Public surface of config/: the config schema, loader and errors. */
export { AkisConfig } from "./schema.ts"
export { ConfigInvalid } from "./errors.ts"
export { loadConfig, defaultConfigPath, merge, envOverrides, type LoadOptions } from "./load.ts"
