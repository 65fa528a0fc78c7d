export type { FieldError, Interval, ScheduleException, ScheduleInput, WeeklyRule } from './types';
export { validateSchedule } from './validate';
export { freeSlots, isWithinSchedule, workingWindows } from './windows';
