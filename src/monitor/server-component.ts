/** Placeholder: replaced by the component's real implementation. */
import { defineComponent } from '../components/component.js';
import { object } from '../config/schema.js';

export const serverComponent = defineComponent({
  name: 'server',
  schema: object({ description: 'placeholder', properties: {} }),
  create: () => ({ start() {}, stop() {} }),
});
