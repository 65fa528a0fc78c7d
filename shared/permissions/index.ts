export * from './roles';
export * from './ability';
