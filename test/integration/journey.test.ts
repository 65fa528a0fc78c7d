import { journeyScenarios } from './journey.scenarios';

/** The appointment journey on the real stack, workers caching workflows as in production. */
journeyScenarios(200);
