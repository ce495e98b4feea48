/**
 * `dynamic-config` (userver's `components::DynamicConfig`), reduced to what tcp-echo has: no
 * config service and no updates, only the defaults. pytest_userver always writes this section
 * (`defaults`, merged with `--config-fallback`) and reads the defaults back through
 * `tests-control` `get_dynamic_config_defaults`, where their keys become the allow-list of
 * `@pytest.mark.config(...)`.
 */
import { readFileSync } from 'node:fs';
import { any, boolean, object, optional, string, type Infer } from '../../config/schema.js';
import { describeFsError } from '../../config/yaml-file.js';
import { ConfigFileError, ConfigValueError } from '../../errors.js';
import { defineComponent, type Component } from '../component.js';

const NAME = 'dynamic-config';
const SECTION = `components_manager.components.${NAME}`;

const dynamicConfigSchema = object({
  description:
    "userver's dynamic config, defaults only: tcp-echo reads no dynamic config value; tests-control " +
    'get_dynamic_config_defaults answers with the defaults',
  properties: {
    defaults: optional(
      object({ description: 'default values by config name (any keys)', properties: {}, additionalProperties: any({ description: 'a config value (any JSON)' }) }),
    ),
    'defaults-path': optional(string({ description: 'a JSON file with the defaults (not together with defaults)' })),
    'fs-cache-path': optional(string({ description: 'cache file of the config service values (accepted; no config service here)' })),
    'fs-task-processor': optional(string({ description: 'task processor for file I/O (accepted; ignored)' })),
    'updates-enabled': optional(boolean({ description: 'whether values are updated at runtime (accepted; no updater here)' })),
  },
});

/** The running `dynamic-config`: its defaults, for tests-control. */
export class DynamicConfig implements Component {
  constructor(readonly defaults: Readonly<Record<string, unknown>>) {}
  start(): void {}
  stop(): void {}
}

/** The `dynamic-config` component. */
export const dynamicConfigComponent = defineComponent({
  name: NAME,
  schema: dynamicConfigSchema,
  create: (config: Infer<typeof dynamicConfigSchema>, context) => {
    const file = config['defaults-path'];
    if (file === undefined) return new DynamicConfig(config.defaults ?? {});
    const at = { file: context.configFile, keyPath: `${SECTION}.defaults-path` };
    if (config.defaults !== undefined) throw new ConfigValueError(at, "give either 'defaults' or 'defaults-path', not both");
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      const why = error instanceof SyntaxError ? `not valid JSON: ${error.message}` : describeFsError(error);
      throw new ConfigFileError(at, `cannot read the defaults from '${file}': ${why}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigValueError(at, `'${file}' must hold a JSON object of config names to values`);
    }
    return new DynamicConfig(parsed as Record<string, unknown>);
  },
});
