/** Placeholder: replaced by the component's real implementation. */
import { defineComponent } from '../../components/component.js';
import { object } from '../../config/schema.js';

export const serverMonitorHandlerComponent = defineComponent({
  name: 'handler-server-monitor',
  schema: object({ description: 'placeholder', properties: {} }),
  create: () => ({ start() {}, stop() {} }),
});
