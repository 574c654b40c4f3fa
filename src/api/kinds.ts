/** The five Istio kinds: schemas, semantic validators and the names Kubernetes knows them by. */
import type { z } from 'zod';
import type { Issues } from './checks.js';
import type { ObjectMeta } from './common.js';
import { IstioStatus } from './common.js';
import { DestinationRuleSchema, DestinationRuleSpec } from './destination-rule.js';
import { GatewaySchema, GatewaySpec } from './gateway.js';
import type { KubeResource } from './kube.js';
import { ServiceEntrySchema, ServiceEntrySpec } from './service-entry.js';
import { SidecarSchema, SidecarSpec } from './sidecar.js';
import { validateDestinationRuleSpec } from './validate-destination-rule.js';
import { validateGatewaySpec } from './validate-gateway.js';
import { validateServiceEntrySpec, validateSidecarSpec } from './validate-service-entry.js';
import { validateVirtualServiceSpec } from './validate-virtual-service.js';
import { VirtualServiceSchema, VirtualServiceSpec } from './virtual-service.js';

type IstioObject<K extends string, S> = {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
  status?: z.infer<typeof IstioStatus>;
};
export type VirtualService = IstioObject<'VirtualService', z.infer<typeof VirtualServiceSpec>>;
export type DestinationRule = IstioObject<'DestinationRule', z.infer<typeof DestinationRuleSpec>>;
export type Gateway = IstioObject<'Gateway', z.infer<typeof GatewaySpec>>;
export type ServiceEntry = IstioObject<'ServiceEntry', z.infer<typeof ServiceEntrySpec>>;
export type Sidecar = IstioObject<'Sidecar', z.infer<typeof SidecarSpec>>;
export type IstioResource = VirtualService | DestinationRule | Gateway | ServiceEntry | Sidecar;

/** Any other well-formed object (Deployment, ConfigMap, ...): accepted, not interpreted. */
export interface GenericResource {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}
export type Resource = IstioResource | KubeResource | GenericResource;

export interface IstioKindInfo {
  kind: string;
  plural: string;
  singular: string;
  listKind: string;
  shortNames: string[];
  schema: z.ZodType;
  specSchema: z.ZodType;
  statusSchema: z.ZodType;
  semantics: (spec: never) => Issues;
}

export const ISTIO_KINDS = {
  VirtualService: { kind: 'VirtualService', plural: 'virtualservices', singular: 'virtualservice', listKind: 'VirtualServiceList', shortNames: ['vs'], schema: VirtualServiceSchema, specSchema: VirtualServiceSpec, statusSchema: IstioStatus, semantics: validateVirtualServiceSpec },
  DestinationRule: { kind: 'DestinationRule', plural: 'destinationrules', singular: 'destinationrule', listKind: 'DestinationRuleList', shortNames: ['dr'], schema: DestinationRuleSchema, specSchema: DestinationRuleSpec, statusSchema: IstioStatus, semantics: validateDestinationRuleSpec },
  Gateway: { kind: 'Gateway', plural: 'gateways', singular: 'gateway', listKind: 'GatewayList', shortNames: ['gw'], schema: GatewaySchema, specSchema: GatewaySpec, statusSchema: IstioStatus, semantics: validateGatewaySpec },
  ServiceEntry: { kind: 'ServiceEntry', plural: 'serviceentries', singular: 'serviceentry', listKind: 'ServiceEntryList', shortNames: ['se'], schema: ServiceEntrySchema, specSchema: ServiceEntrySpec, statusSchema: IstioStatus, semantics: validateServiceEntrySpec },
  Sidecar: { kind: 'Sidecar', plural: 'sidecars', singular: 'sidecar', listKind: 'SidecarList', shortNames: [], schema: SidecarSchema, specSchema: SidecarSpec, statusSchema: IstioStatus, semantics: validateSidecarSpec },
} satisfies Record<string, IstioKindInfo>;
export type IstioKind = keyof typeof ISTIO_KINDS;
