// Must NOT type-check: proves tsc really checks the declarations.
import { mount } from '@intake-engine/intake';
void mount(document.body, { chart: 42, locale: true });
