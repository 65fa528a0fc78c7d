import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Registered on the server at start (SPEC §3). Values are ids only: search attributes are stored in clear. */
export const SA = {
  ClinicId: defineSearchAttributeKey('ClinicId', SearchAttributeType.KEYWORD),
  PatientId: defineSearchAttributeKey('PatientId', SearchAttributeType.KEYWORD),
  PractitionerId: defineSearchAttributeKey('PractitionerId', SearchAttributeType.KEYWORD),
  AppointmentId: defineSearchAttributeKey('AppointmentId', SearchAttributeType.KEYWORD),
  JourneyKind: defineSearchAttributeKey('JourneyKind', SearchAttributeType.KEYWORD),
};

export const SEARCH_ATTRIBUTE_NAMES = Object.keys(SA);
