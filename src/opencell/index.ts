export * from './client';
export * from './dto';
export * as codecs from './codecs';
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
} from './codecs';
export { parseRetryAfter } from './http';
