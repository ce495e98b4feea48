/** Placeholder: replaced by the component's real implementation. */
import { defineComponent } from '../components/component.js';
import { object } from '../config/schema.js';

export const statisticsStorageComponent = defineComponent({
  name: 'statistics-storage',
  schema: object({ description: 'placeholder', properties: {} }),
  create: () => ({}),
});
