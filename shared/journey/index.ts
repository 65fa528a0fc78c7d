/** Pure rules of the appointment journey (no I/O): used by activities and the API. */
export { DEFAULT_JOURNEY_SETTINGS, journeySettings, minutesToMs, type JourneySettings } from './settings';
export { parseQuietHours, quietWindowAt, type QuietHours, type Window } from './quiet-hours';
export { planReminders, type PlannedReminder, type ReminderPlanInput } from './reminders';
export { insideMinimumNotice, isPatientSelfService } from './notice';
export { nearestSlot, slotSearchRange } from './slots';
export { planAfterCare, planPreparation, type InstructionTiming, type PlannedInstruction } from './instructions';
export { MOVABLE_STATUSES, nextStep, pendingSteps, sleepFor, stepAction, TERMINAL_STATUSES, type Step, type StepKind, type StepPlan } from './steps';
export { parseRescheduleSignal } from './signals';
