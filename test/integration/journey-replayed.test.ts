import { journeyScenarios } from './journey.scenarios';

/**
 * The same journeys with workers that cache no workflow: every workflow task replays the history so
 * far, as after a worker restart or an eviction, so a journey that cannot replay fails here.
 */
journeyScenarios(0);
