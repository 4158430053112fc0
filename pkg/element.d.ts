import type { Bundle, ExpandValueSetRequest, IntakeBuild, IntakeStorage, Questionnaire, QuestionnaireResponse, UrgentAdvisory, ValueSet, VisitContext, VisitType, FhirResource } from './index.js';

/** `<intake-form>`: objects as properties, strings as attributes (locale, subject, session-id, storage-key, now). */
export declare class IntakeFormElement extends HTMLElement {
  visitType?: VisitType;
  questionnaire?: Questionnaire | string;
  manifest?: object | string;
  rules?: Record<string, string>;
  chart?: FhirResource | string;
  context?: VisitContext;
  storage?: IntakeStorage | false;
  build?: IntakeBuild;
  wasmUrl?: string | URL;
  sdcWasmUrl?: string | URL;
  rulesWasmUrl?: string | URL;
  basicWasmUrl?: string | URL;
  valueSets?: ValueSet[];
  expandValueSet?: (request: ExpandValueSetRequest) => Promise<ValueSet> | ValueSet;
  readonly sessionId: string | null;
  getResponse(): QuestionnaireResponse | null;
  submit(): Promise<Bundle>;
  clearSaved(): void;
}

export interface IntakeSubmitDetail {
  /** The write-back Bundle; `null` for a bare form with neither a chart nor a subject (nothing to write back to). */
  bundle: Bundle | null;
  response: QuestionnaireResponse;
  /** Make the form wait for your write-back before it tells the patient the answers were sent. */
  waitUntil(promise: Promise<unknown>): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'intake-form': IntakeFormElement;
  }
  interface HTMLElementEventMap {
    'intake-change': CustomEvent<QuestionnaireResponse>;
    'intake-submit': CustomEvent<IntakeSubmitDetail>;
    'intake-urgent': CustomEvent<{ advisories: UrgentAdvisory[] }>;
    'intake-error': CustomEvent<{ message: string }>;
  }
}
