import * as E from 'fp-ts/Either';
import { UnknownProductError } from '../errors';
import type { ProductKind, ProductView } from './views';

/**
 * Product classification (docs/behaviour.md §2.1, 16.0.1.0.3+ sets) and the catalog check.
 */

/** One-shot categories: a new line applies the product's one-shot charge. Checked first. */
export const ONE_SHOT_CATEGORIES: readonly string[] = [
  'somconnexio.mobile_oneshot_service',
  'somconnexio.broadband_oneshot_service',
  'somconnexio.broadband_oneshot_adsl_service',
];

/** Additional-service categories (exact match). */
export const ADDITIONAL_SERVICE_CATEGORIES: readonly string[] = [
  'somconnexio.broadband_additional_service',
  'somconnexio.mobile_additional_service',
];

/**
 * Categories whose **direct** children are services (the parent itself, and grandchildren, excluded): the original's
 * listener searches `product.category` with `parent_id = <parent>` (docs/behaviour.md §2.1).
 */
export const SERVICE_PARENT_CATEGORIES: readonly string[] = [
  'multimedia_somconnexio.multimedia_service',
  'switchboard_somconnexio.switchboard_additional_service',
];

/**
 * Default `service.technology.service_product_category_id` XML ids (the main tariff categories). The original
 * read them from the `service_technology` table at run time; the runtime should pass the loaded list.
 */
export const DEFAULT_TECHNOLOGY_SERVICE_CATEGORIES: readonly string[] = [
  'somconnexio.mobile_service',
  'somconnexio.broadband_fiber_service',
  'somconnexio.broadband_adsl_service',
  'somconnexio.broadband_4G_service',
  'switchboard_somconnexio.switchboard_category',
];

/**
 * What a new contract line of this product category does: 'one_shot' (apply the charge), 'service' (activate
 * the service) or 'none' (nothing is sent). The one-shot set wins when a category is in both.
 */
export function productKind(
  category: Pick<ProductView, 'categoryXmlId' | 'categoryAncestorXmlIds'>,
  technologyServiceCategories: readonly string[] = DEFAULT_TECHNOLOGY_SERVICE_CATEGORIES,
): ProductKind {
  const xmlId = category.categoryXmlId;
  if (xmlId !== null && ONE_SHOT_CATEGORIES.includes(xmlId)) return 'one_shot';
  if (
    xmlId !== null &&
    (technologyServiceCategories.includes(xmlId) || ADDITIONAL_SERVICE_CATEGORIES.includes(xmlId))
  )
    return 'service';
  const parent = category.categoryAncestorXmlIds[0];
  if (parent !== undefined && SERVICE_PARENT_CATEGORIES.includes(parent)) return 'service';
  return 'none';
}

/**
 * Checks a product's OpenCell code against the catalog (service templates and one-shot charge templates, as
 * one set of codes). Left: an UnknownProductError naming the product and its code (or its lack of one).
 */
export function productCatalogCheck(
  product: { id: number | string; defaultCode: string | null },
  knownCodes: ReadonlySet<string>,
): E.Either<UnknownProductError, string> {
  const code = product.defaultCode;
  if (code === null || code.trim() === '' || !knownCodes.has(code)) {
    return E.left(new UnknownProductError(product.id, code === null || code.trim() === '' ? null : code));
  }
  return E.right(code);
}

/** Throwing form of `productCatalogCheck`. */
export function assertKnownProduct(
  product: { id: number | string; defaultCode: string | null },
  knownCodes: ReadonlySet<string>,
): string {
  const checked = productCatalogCheck(product, knownCodes);
  if (E.isLeft(checked)) throw checked.left;
  return checked.right;
}
