export * from './client';
export * from '../../domain/opencell/dto';
export * as codecs from '../../domain/opencell/codecs';
export type {
  Access,
  BillingAccount,
  Customer,
  CustomerAccount,
  Invoice,
  OfferTemplate,
  OneShotChargeTemplate,
  PaymentMethod,
  ServiceInstance,
  ServiceTemplate,
  Subscription,
  UserAccount,
} from '../../domain/opencell/codecs';
export { parseRetryAfter } from './http';
