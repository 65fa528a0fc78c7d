import type { ResourceNeeds, ServiceKindPlugin } from './types';

const KIND = /^[A-Z][A-Z0-9_]{1,39}$/;
const plugins = new Map<string, ServiceKindPlugin>();

/** Adds a kind. Registering the same kind twice with another plugin is a programming error. */
export function registerServiceKind(plugin: ServiceKindPlugin): ServiceKindPlugin {
  if (!KIND.test(plugin.kind)) throw new Error(`Service kind ${JSON.stringify(plugin.kind)} must be upper-case letters, digits and underscores`);
  const existing = plugins.get(plugin.kind);
  if (existing && existing !== plugin) throw new Error(`Service kind ${plugin.kind} is already registered`);
  const keys = [...plugin.preparation, ...plugin.afterCare].map((i) => i.key);
  if (new Set(keys).size !== keys.length) throw new Error(`Service kind ${plugin.kind} repeats an instruction key`);
  if (!Number.isInteger(plugin.resources.therapists) || plugin.resources.therapists < 0) throw new Error(`Service kind ${plugin.kind}: therapists must be a whole number`);
  plugins.set(plugin.kind, plugin);
  return plugin;
}

export function serviceKind(kind: string): ServiceKindPlugin | undefined {
  return plugins.get(kind);
}

export function isServiceKind(kind: string): boolean {
  return plugins.has(kind);
}

export function serviceKindNames(): string[] {
  return [...plugins.keys()];
}

/**
 * The resources a new service takes: what its body names, else its kind's defaults. Stored on the
 * service row, so a booking reads the row alone and a later change of defaults moves no booking.
 */
export function resourcesForNewService(kind: string, given: { roomKind?: string | null; therapistsRequired?: number }): ResourceNeeds {
  const defaults = plugins.get(kind)?.resources ?? { roomKind: null, therapists: 0 };
  return { roomKind: given.roomKind !== undefined ? given.roomKind : defaults.roomKind, therapists: given.therapistsRequired ?? defaults.therapists };
}
