// Which topic becomes which documents: the records, anomalies and actions each get their index, a
// deterministic id (so a redelivery overwrites) and their document shape (documents.ts).

import type { ActionEvent } from '../contracts/action-event.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { actionDocument, actionDocumentId, actionIndex, anomalyDocument, anomalyDocumentId, anomalyIndex, inspectionDocument, inspectionDocumentId, inspectionIndex } from './documents.js';
import type { DocumentRoute } from './indexer.js';

// Documents are made just before their bulk request, so now is when they are indexed (ECS event.ingested).
const indexedNow = () => ({ ingested: new Date() });

export const inspectionRoute: DocumentRoute = {
  index: (v) => inspectionIndex(v as InspectionRecord),
  id: (v) => inspectionDocumentId(v as InspectionRecord),
  document: (v) => inspectionDocument(v as InspectionRecord, indexedNow()),
};

export const anomalyRoute: DocumentRoute = {
  index: () => anomalyIndex(),
  id: (v) => anomalyDocumentId(v as AnomalyEvent),
  document: (v) => anomalyDocument(v as AnomalyEvent, indexedNow()),
};

export const actionRoute: DocumentRoute = {
  index: () => actionIndex(),
  id: (v) => actionDocumentId(v as ActionEvent),
  document: (v) => actionDocument(v as ActionEvent, indexedNow()),
};

