/** Placeholder: replaced by the component's real implementation. */
import { defineComponent } from '../components/component.js';
import { object } from '../config/schema.js';

export const echoComponent = defineComponent({
  name: 'tcp-echo',
  schema: object({ description: 'placeholder', properties: {} }),
  create: () => ({ start() {}, stop() {} }),
});
