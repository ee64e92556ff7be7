-- Reference data: what Odoo + the SomConnexió addons install before any customer exists.
-- Fixed ids (stable across databases, handy in tests) + XML ids in ir_model_data, exactly how the
-- original module identifies product categories (e.g. somconnexio.mobile_oneshot_service).
-- Idempotent: every INSERT is ON CONFLICT DO NOTHING; sequences are moved past the fixed ids at the end.

-- Bootstrap the res_partner <-> res_company <-> res_users cycle.
INSERT INTO res_currency (id, name, full_name, symbol, rounding, decimal_places, active, position,
                          currency_unit_label, currency_subunit_label) VALUES
  (1, 'EUR', 'Euro', '€', 0.01, 2, true, 'after', '{"en_US": "Euros", "ca_ES": "Euros", "es_ES": "Euros"}',
   '{"en_US": "Cents", "ca_ES": "Cèntims", "es_ES": "Céntimos"}')
ON CONFLICT DO NOTHING;

INSERT INTO res_country (id, name, code, phone_code, currency_id, vat_label, state_required, zip_required) VALUES
  (68,  '{"en_US": "Spain", "ca_ES": "Espanya", "es_ES": "España"}', 'ES', 34, 1, '{"en_US": "NIF"}', true, true),
  (75,  '{"en_US": "France", "ca_ES": "França", "es_ES": "Francia"}', 'FR', 33, 1, '{"en_US": "TVA"}', false, true),
  (183, '{"en_US": "Portugal", "ca_ES": "Portugal", "es_ES": "Portugal"}', 'PT', 351, 1, '{"en_US": "NIF"}', false, true),
  (6,   '{"en_US": "Andorra", "ca_ES": "Andorra", "es_ES": "Andorra"}', 'AD', 376, 1, NULL, false, true),
  (57,  '{"en_US": "Germany", "ca_ES": "Alemanya", "es_ES": "Alemania"}', 'DE', 49, 1, '{"en_US": "USt"}', false, true),
  (110, '{"en_US": "Italy", "ca_ES": "Itàlia", "es_ES": "Italia"}', 'IT', 39, 1, '{"en_US": "IVA"}', false, true)
ON CONFLICT DO NOTHING;

INSERT INTO res_country_state (id, country_id, name, code) VALUES
  (401, 68, 'A Coruña', 'C'),
  (402, 68, 'Araba/Álava', 'VI'),
  (403, 68, 'Albacete', 'AB'),
  (404, 68, 'Alacant/Alicante', 'A'),
  (405, 68, 'Almería', 'AL'),
  (406, 68, 'Asturias', 'O'),
  (407, 68, 'Ávila', 'AV'),
  (408, 68, 'Badajoz', 'BA'),
  (409, 68, 'Illes Balears', 'PM'),
  (410, 68, 'Barcelona', 'B'),
  (411, 68, 'Burgos', 'BU'),
  (412, 68, 'Cáceres', 'CC'),
  (413, 68, 'Cádiz', 'CA'),
  (414, 68, 'Cantabria', 'S'),
  (415, 68, 'Castelló/Castellón', 'CS'),
  (416, 68, 'Ceuta', 'CE'),
  (417, 68, 'Ciudad Real', 'CR'),
  (418, 68, 'Córdoba', 'CO'),
  (419, 68, 'Cuenca', 'CU'),
  (420, 68, 'Girona', 'GI'),
  (421, 68, 'Granada', 'GR'),
  (422, 68, 'Guadalajara', 'GU'),
  (423, 68, 'Gipuzkoa', 'SS'),
  (424, 68, 'Huelva', 'H'),
  (425, 68, 'Huesca', 'HU'),
  (426, 68, 'Jaén', 'J'),
  (427, 68, 'La Rioja', 'LO'),
  (428, 68, 'Las Palmas', 'GC'),
  (429, 68, 'León', 'LE'),
  (430, 68, 'Lleida', 'L'),
  (431, 68, 'Lugo', 'LU'),
  (432, 68, 'Madrid', 'M'),
  (433, 68, 'Málaga', 'MA'),
  (434, 68, 'Melilla', 'ML'),
  (435, 68, 'Murcia', 'MU'),
  (436, 68, 'Navarra', 'NA'),
  (437, 68, 'Ourense', 'OR'),
  (438, 68, 'Palencia', 'P'),
  (439, 68, 'Pontevedra', 'PO'),
  (440, 68, 'Salamanca', 'SA'),
  (441, 68, 'Santa Cruz de Tenerife', 'TF'),
  (442, 68, 'Segovia', 'SG'),
  (443, 68, 'Sevilla', 'SE'),
  (444, 68, 'Soria', 'SO'),
  (445, 68, 'Tarragona', 'T'),
  (446, 68, 'Teruel', 'TE'),
  (447, 68, 'Toledo', 'TO'),
  (448, 68, 'València/Valencia', 'V'),
  (449, 68, 'Valladolid', 'VA'),
  (450, 68, 'Bizkaia', 'BI'),
  (451, 68, 'Zamora', 'ZA'),
  (452, 68, 'Zaragoza', 'Z')
ON CONFLICT DO NOTHING;

INSERT INTO res_partner (id, name, display_name, is_company, type, lang, street, zip, city, state_id, country_id,
                         vat, email, phone, active, commercial_partner_id, partner_share) VALUES
  (1, 'Som Connexió SCCL', 'Som Connexió SCCL', true, 'contact', 'ca_ES', 'C/ de les Moreres, 3', '08005',
   'Barcelona', 410, 68, 'ESF66380676', 'serveis@somconnexio.coop', '930000000', true, 1, false),
  (2, 'OdooBot', 'OdooBot', false, 'contact', 'en_US', NULL, NULL, NULL, NULL, NULL, NULL, 'odoobot@example.com',
   NULL, false, 2, false),
  (3, 'Administrator', 'Administrator', false, 'contact', 'ca_ES', NULL, NULL, NULL, NULL, NULL, NULL,
   'admin@somconnexio.coop', NULL, true, 3, false),
  (4, 'Billing Bot', 'Billing Bot', false, 'contact', 'ca_ES', NULL, NULL, NULL, NULL, NULL, NULL,
   'billing-bot@somconnexio.coop', NULL, true, 4, false)
ON CONFLICT DO NOTHING;

INSERT INTO res_company (id, name, partner_id, currency_id, sequence, email, phone, vat, active, account_fiscal_country_id)
VALUES (1, 'Som Connexió SCCL', 1, 1, 0, 'serveis@somconnexio.coop', '930000000', 'ESF66380676', true, 68)
ON CONFLICT DO NOTHING;
UPDATE res_partner SET company_id = 1 WHERE id IN (1, 2, 3, 4) AND company_id IS NULL;

-- billing-bot: the user the pipeline logs in as (ODOO_USER). Passwords are not stored here.
INSERT INTO res_users (id, login, partner_id, company_id, active, share) VALUES
  (1, '__system__', 2, 1, false, false),
  (2, 'admin', 3, 1, true, false),
  (3, 'billing-bot', 4, 1, true, false)
ON CONFLICT DO NOTHING;

INSERT INTO uom_category (id, name) VALUES (1, '{"en_US": "Unit", "ca_ES": "Unitat", "es_ES": "Unidad"}')
ON CONFLICT DO NOTHING;
INSERT INTO uom_uom (id, name, category_id, factor, rounding, active, uom_type) VALUES
  (1, '{"en_US": "Units", "ca_ES": "Unitats", "es_ES": "Unidades"}', 1, 1.0, 0.01, true, 'reference')
ON CONFLICT DO NOTHING;

-- Partner refs and contract codes come from ir.sequence records ('standard' = PG sequence ir_sequence_%03d).
INSERT INTO ir_sequence (id, name, code, implementation, number_next, number_increment, padding, company_id) VALUES
  (1, 'Partner reference (SomConnexió)', 'somconnexio.partner.ref', 'standard', 1000, 1, 0, NULL),
  (2, 'Contract code (SomConnexió)', 'somconnexio.contract.code', 'standard', 50000, 1, 0, NULL)
ON CONFLICT DO NOTHING;
CREATE SEQUENCE IF NOT EXISTS ir_sequence_001 INCREMENT BY 1 START WITH 1000;
CREATE SEQUENCE IF NOT EXISTS ir_sequence_002 INCREMENT BY 1 START WITH 50000;

-- Product categories. Triggers (original-module.md §2.1):
--   one-shot set: mobile_oneshot_service, broadband_oneshot_service, broadband_oneshot_adsl_service
--   service set:  each service_technology.service_product_category_id (mobile, fiber, adsl, 4G),
--                 mobile_additional_service, broadband_additional_service,
--                 children of multimedia_somconnexio.multimedia_service and of
--                 switchboard_somconnexio.switchboard_additional_service
--   "Other" (somconnexio.other_products) triggers nothing.
-- The tree as somconnexio's data file defines it (somconnexio/data/product_categories.xml): mobile_service and
-- broadband_service are roots (no parent, so not under product.product_category_all); the additional and one-shot
-- categories are their children. The technology categories (fiber, ADSL, 4G) and the ADSL one-shot category are
-- placed under broadband_service by their names (their records are not in the sources read). The listener matches
-- categories by XML id, so the tree changes no kind; only multimedia and switchboard extras depend on parent_id.
INSERT INTO product_category (id, name, complete_name, parent_id, parent_path) VALUES
  (1,  'All', 'All', NULL, '1/'),
  (10, 'Mobile Service', 'Mobile Service', NULL, '10/'),
  (11, 'Broadband Service', 'Broadband Service', NULL, '11/'),
  (12, 'Fiber Service', 'Broadband Service / Fiber Service', 11, '11/12/'),
  (13, 'ADSL Service', 'Broadband Service / ADSL Service', 11, '11/13/'),
  (14, '4G Service', 'Broadband Service / 4G Service', 11, '11/14/'),
  (15, 'Mobile Additional Service', 'Mobile Service / Mobile Additional Service', 10, '10/15/'),
  (16, 'Broadband Additional Service', 'Broadband Service / Broadband Additional Service', 11, '11/16/'),
  (17, 'Mobile OneShot Service', 'Mobile Service / Mobile OneShot Service', 10, '10/17/'),
  (18, 'Broadband OneShot Service', 'Broadband Service / Broadband OneShot Service', 11, '11/18/'),
  (19, 'Broadband ADSL OneShot Service', 'Broadband Service / Broadband ADSL OneShot Service', 11, '11/19/'),
  (20, 'Multimedia Service', 'All / Multimedia Service', 1, '1/20/'),
  (21, 'Filmin', 'All / Multimedia Service / Filmin', 20, '1/20/21/'),
  (22, 'Switchboard Additional Service', 'All / Switchboard Additional Service', 1, '1/22/'),
  (23, 'Switchboard Extras', 'All / Switchboard Additional Service / Switchboard Extras', 22, '1/22/23/'),
  (30, 'Other Products', 'All / Other Products', 1, '1/30/')
ON CONFLICT DO NOTHING;

INSERT INTO service_technology (id, name, service_product_category_id) VALUES
  (1, 'Mobile', 10), (2, 'Fiber', 12), (3, 'ADSL', 13), (4, '4G', 14)
ON CONFLICT DO NOTHING;

INSERT INTO service_supplier (id, name, ref) VALUES
  (1, 'MásMóvil', 'MM'), (2, 'Vodafone', 'VF'), (3, 'Orange', 'OR'), (4, 'XOLN', 'XO'), (5, 'Asociatel', 'AS')
ON CONFLICT DO NOTHING;

-- Catalog. default_code = the OpenCell service / one-shot code (the sandbox catalog uses the same codes),
-- except SE_SC_REC_UNKNOWN_X (unknown to OpenCell, never used by default contracts) and
-- SC_OTHER_DONATION (in the "Other" category, which triggers nothing).
INSERT INTO product_template (id, name, detailed_type, type, categ_id, list_price, uom_id, uom_po_id, company_id,
                              default_code, sale_ok, purchase_ok, active) VALUES
  (1,  '{"en_US": "Unlimited calls 20 GB", "ca_ES": "Trucades il·limitades 20 GB", "es_ES": "Llamadas ilimitadas 20 GB"}', 'service', 'service', 10, 17.36, 1, 1, NULL, 'SE_SC_REC_MOBILE_T_UNL_20480', true, false, true),
  (2,  '{"en_US": "150 min 1 GB", "ca_ES": "150 min 1 GB", "es_ES": "150 min 1 GB"}', 'service', 'service', 10, 6.61, 1, 1, NULL, 'SE_SC_REC_MOBILE_T_150_1024', true, false, true),
  (3,  '{"en_US": "0 min 0 GB", "ca_ES": "0 min 0 GB", "es_ES": "0 min 0 GB"}', 'service', 'service', 10, 1.65, 1, 1, NULL, 'SE_SC_REC_MOBILE_T_0_0', true, false, true),
  (4,  '{"en_US": "Unlimited calls pack 1 GB", "ca_ES": "Paquet trucades il·limitades 1 GB", "es_ES": "Paquete llamadas ilimitadas 1 GB"}', 'service', 'service', 15, 2.48, 1, 1, NULL, 'SE_SC_REC_MOBILE_PACK_UNL_1024', true, false, true),
  (5,  '{"en_US": "Fiber 600 Mb", "ca_ES": "Fibra 600 Mb", "es_ES": "Fibra 600 Mb"}', 'service', 'service', 12, 28.93, 1, 1, NULL, 'SE_SC_REC_BA_F_600', true, false, true),
  (6,  '{"en_US": "Fiber 100 Mb", "ca_ES": "Fibra 100 Mb", "es_ES": "Fibra 100 Mb"}', 'service', 'service', 12, 20.66, 1, 1, NULL, 'SE_SC_REC_BA_F_100', true, false, true),
  (7,  '{"en_US": "Fiber 1 Gb", "ca_ES": "Fibra 1 Gb", "es_ES": "Fibra 1 Gb"}', 'service', 'service', 12, 37.19, 1, 1, NULL, 'SE_SC_REC_BA_F_1000', true, false, true),
  (8,  '{"en_US": "ADSL without landline", "ca_ES": "ADSL sense fix", "es_ES": "ADSL sin fijo"}', 'service', 'service', 13, 24.79, 1, 1, NULL, 'SE_SC_REC_BA_ADSL_SF', true, false, true),
  (9,  '{"en_US": "4G Router", "ca_ES": "Router 4G", "es_ES": "Router 4G"}', 'service', 'service', 14, 28.93, 1, 1, NULL, 'SE_SC_REC_BA_4G', true, false, true),
  (10, '{"en_US": "Landline unlimited calls", "ca_ES": "Fix trucades il·limitades", "es_ES": "Fijo llamadas ilimitadas"}', 'service', 'service', 16, 4.13, 1, 1, NULL, 'SE_SC_REC_BA_LANDLINE_UNL', true, false, true),
  (11, '{"en_US": "SIM card", "ca_ES": "Targeta SIM", "es_ES": "Tarjeta SIM"}', 'service', 'service', 17, 2.05, 1, 1, NULL, 'CH_SC_OSO_SIM', true, false, true),
  (12, '{"en_US": "Router return", "ca_ES": "Retorn del router", "es_ES": "Devolución del router"}', 'service', 'service', 18, 57.85, 1, 1, NULL, 'CH_SC_OSO_ROUTER_RETURN', true, false, true),
  (13, '{"en_US": "Additional data 1 GB", "ca_ES": "Dades addicionals 1 GB", "es_ES": "Datos adicionales 1 GB"}', 'service', 'service', 17, 1.65, 1, 1, NULL, 'CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB', true, false, true),
  (14, '{"en_US": "Unknown extra X", "ca_ES": "Extra desconegut X"}', 'service', 'service', 15, 0.99, 1, 1, NULL, 'SE_SC_REC_UNKNOWN_X', true, false, true),
  (15, '{"en_US": "Donation", "ca_ES": "Donació", "es_ES": "Donación"}', 'service', 'service', 30, 5.00, 1, 1, NULL, 'SC_OTHER_DONATION', true, false, true),
  -- the router an ADSL / XOLN fiber info record requires (router_product_id); no code, never a contract line
  (16, '{"en_US": "Router", "ca_ES": "Router", "es_ES": "Router"}', 'consu', 'consu', 30, 0.00, 1, 1, NULL, NULL, false, true, true)
ON CONFLICT DO NOTHING;

INSERT INTO product_product (id, default_code, active, product_tmpl_id)
SELECT id, default_code, true, id FROM product_template WHERE id BETWEEN 1 AND 16
ON CONFLICT DO NOTHING;

INSERT INTO product_pricelist (id, name, active, sequence, currency_id, company_id, code) VALUES
  (1, '{"en_US": "Public Pricelist", "ca_ES": "Tarifa pública"}', true, 1, 1, NULL, NULL),
  (2, '{"en_US": "Prices without VAT", "ca_ES": "Preus sense IVA"}', true, 2, 1, NULL, '0IVA')
ON CONFLICT DO NOTHING;

-- Accounting (Spanish PGC).
INSERT INTO account_account (id, name, code, account_type, internal_group, reconcile, company_id) VALUES
  (1, 'Clientes (euros)', '430000', 'asset_receivable', 'asset', true, 1),
  (2, 'Prestaciones de servicios', '705000', 'income', 'income', false, 1),
  (3, 'Ventas de mercaderías', '700000', 'income', 'income', false, 1),
  (4, 'Hacienda Pública, IVA repercutido', '477000', 'liability_current', 'liability', false, 1),
  (5, 'Bancos e instituciones de crédito', '572000', 'asset_cash', 'asset', false, 1),
  (6, 'Ingresos por servicios diversos', '759000', 'income_other', 'income', false, 1),
  (7, 'Hacienda Pública, IVA soportado', '472000', 'asset_current', 'asset', false, 1),
  -- the income sub-accounts of the OpenCell catalog's invoice categories (src/sandbox/opencell/catalog.json)
  (8, 'Prestaciones de servicios, internet', '705010', 'income', 'income', false, 1),
  (9, 'Prestaciones de servicios, telefonía fija', '705020', 'income', 'income', false, 1),
  (10, 'Prestaciones de servicios, multimedia', '705030', 'income', 'income', false, 1),
  (11, 'Devoluciones de ventas y operaciones similares', '708000', 'income', 'income', false, 1)
ON CONFLICT DO NOTHING;

INSERT INTO account_journal (id, name, code, type, default_account_id, company_id, sequence, currency_id) VALUES
  (1, '{"en_US": "Customer services invoices", "ca_ES": "Factures de serveis a clients"}', 'SERV', 'sale', 2, 1, 5, NULL),
  (2, '{"en_US": "Consumption invoices", "ca_ES": "Factures de consum"}', 'CONS', 'sale', 2, 1, 6, NULL),
  (3, '{"en_US": "Bank", "ca_ES": "Banc"}', 'BNK1', 'bank', 5, 1, 10, NULL),
  (4, '{"en_US": "Miscellaneous Operations", "ca_ES": "Operacions diverses"}', 'MISC', 'general', NULL, 1, 9, NULL)
ON CONFLICT DO NOTHING;

INSERT INTO account_tax_group (id, name, sequence, country_id) VALUES
  (1, '{"en_US": "VAT 21%", "ca_ES": "IVA 21%", "es_ES": "IVA 21%"}', 1, 68),
  (2, '{"en_US": "VAT 10%", "ca_ES": "IVA 10%", "es_ES": "IVA 10%"}', 2, 68),
  (3, '{"en_US": "VAT 4%", "ca_ES": "IVA 4%", "es_ES": "IVA 4%"}', 3, 68),
  (4, '{"en_US": "VAT 0%", "ca_ES": "IVA 0%", "es_ES": "IVA 0%"}', 4, 68),
  (5, '{"en_US": "IGIC 7%", "ca_ES": "IGIC 7%", "es_ES": "IGIC 7%"}', 5, 68)
ON CONFLICT DO NOTHING;

-- oc_code = the OpenCell tax code (invoiceLines[].taxCode) the invoice import maps to account.tax.
INSERT INTO account_tax (id, name, type_tax_use, tax_scope, amount_type, company_id, sequence, amount, description,
                         tax_group_id, country_id, oc_code) VALUES
  (1, '{"en_US": "21% VAT (services)", "ca_ES": "IVA 21% (serveis)", "es_ES": "IVA 21% (servicios)"}', 'sale', 'service', 'percent', 1, 1, 21.0, '{"en_US": "21%"}', 1, 68, 'TAX_HIGH'),
  (2, '{"en_US": "10% VAT", "ca_ES": "IVA 10%", "es_ES": "IVA 10%"}', 'sale', NULL, 'percent', 1, 2, 10.0, '{"en_US": "10%"}', 2, 68, 'TAX_REDUCED'),
  (3, '{"en_US": "4% VAT", "ca_ES": "IVA 4%", "es_ES": "IVA 4%"}', 'sale', NULL, 'percent', 1, 3, 4.0, '{"en_US": "4%"}', 3, 68, 'TAX_SUPER_REDUCED'),
  (4, '{"en_US": "VAT exempt", "ca_ES": "IVA exempt", "es_ES": "IVA exento"}', 'sale', NULL, 'percent', 1, 4, 0.0, '{"en_US": "0%"}', 4, 68, 'TAX_EXEMPT'),
  (5, '{"en_US": "7% IGIC (Canary Islands)", "ca_ES": "IGIC 7% (Canàries)", "es_ES": "IGIC 7% (Canarias)"}', 'sale', NULL, 'percent', 1, 5, 7.0, '{"en_US": "7%"}', 5, 68, 'TAX_IGIC'),
  (6, '{"en_US": "21% VAT (purchases)", "ca_ES": "IVA 21% (compres)", "es_ES": "IVA 21% (compras)"}', 'purchase', NULL, 'percent', 1, 6, 21.0, '{"en_US": "21%"}', 1, 68, NULL)
ON CONFLICT DO NOTHING;

INSERT INTO account_payment_method (id, name, code, payment_type) VALUES
  (1, '{"en_US": "Manual"}', 'manual', 'inbound'),
  (2, '{"en_US": "SEPA Direct Debit for customers"}', 'sepa_direct_debit', 'inbound')
ON CONFLICT DO NOTHING;

INSERT INTO account_payment_mode (id, name, company_id, bank_account_link, fixed_journal_id, payment_method_id,
                                  payment_type, payment_method_code, active) VALUES
  (1, '{"en_US": "SEPA direct debit", "ca_ES": "Rebut domiciliat SEPA"}', 1, 'fixed', 3, 2, 'inbound', 'sepa_direct_debit', true),
  (2, '{"en_US": "Bank transfer", "ca_ES": "Transferència bancària"}', 1, 'fixed', 3, 1, 'inbound', 'manual', true)
ON CONFLICT DO NOTHING;

INSERT INTO contract_terminate_reason (id, name, terminate_comment_required) VALUES
  (1, 'Voluntary termination', false),
  (2, 'Outgoing portability', false),
  (3, 'Non-payment', true)
ON CONFLICT DO NOTHING;

INSERT INTO contract_terminate_user_reason (id, name) VALUES
  (1, '{"en_US": "Price", "ca_ES": "Preu"}'),
  (2, '{"en_US": "Service quality", "ca_ES": "Qualitat del servei"}')
ON CONFLICT DO NOTHING;

-- Common banks (Spanish entity codes are used by the demo IBAN generator).
INSERT INTO res_bank (id, name, bic, country, active) VALUES
  (1, 'CaixaBank', 'CAIXESBBXXX', 68, true),
  (2, 'Banco Bilbao Vizcaya Argentaria', 'BBVAESMMXXX', 68, true),
  (3, 'Banco Santander', 'BSCHESMMXXX', 68, true),
  (4, 'Banco de Sabadell', 'BSABESBBXXX', 68, true),
  (5, 'Triodos Bank', 'TRIOESMMXXX', 68, true),
  (6, 'Caixa d''Enginyers', 'CDENESBBXXX', 68, true),
  (7, 'Fiare Banca Ètica', 'ETICES21XXX', 68, true)
ON CONFLICT DO NOTHING;

-- XML ids.
INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES
  ('base', 'EUR', 'res.currency', 1, false),
  ('base', 'es', 'res.country', 68, false),
  ('base', 'fr', 'res.country', 75, false),
  ('base', 'pt', 'res.country', 183, false),
  ('base', 'ad', 'res.country', 6, false),
  ('base', 'de', 'res.country', 57, false),
  ('base', 'it', 'res.country', 110, false),
  ('base', 'main_partner', 'res.partner', 1, true),
  ('base', 'partner_root', 'res.partner', 2, true),
  ('base', 'partner_admin', 'res.partner', 3, true),
  ('somconnexio', 'partner_billing_bot', 'res.partner', 4, true),
  ('base', 'main_company', 'res.company', 1, true),
  ('base', 'user_root', 'res.users', 1, true),
  ('base', 'user_admin', 'res.users', 2, true),
  ('somconnexio', 'user_billing_bot', 'res.users', 3, true),
  ('uom', 'product_uom_categ_unit', 'uom.category', 1, false),
  ('uom', 'product_uom_unit', 'uom.uom', 1, false),
  ('somconnexio', 'sequence_partner', 'ir.sequence', 1, true),
  ('somconnexio', 'sequence_contract', 'ir.sequence', 2, true),
  ('product', 'product_category_all', 'product.category', 1, false),
  ('somconnexio', 'mobile_service', 'product.category', 10, false),
  ('somconnexio', 'broadband_service', 'product.category', 11, false),
  ('somconnexio', 'broadband_fiber_service', 'product.category', 12, false),
  ('somconnexio', 'broadband_adsl_service', 'product.category', 13, false),
  ('somconnexio', 'broadband_4G_service', 'product.category', 14, false),
  ('somconnexio', 'mobile_additional_service', 'product.category', 15, false),
  ('somconnexio', 'broadband_additional_service', 'product.category', 16, false),
  ('somconnexio', 'mobile_oneshot_service', 'product.category', 17, false),
  ('somconnexio', 'broadband_oneshot_service', 'product.category', 18, false),
  ('somconnexio', 'broadband_oneshot_adsl_service', 'product.category', 19, false),
  ('multimedia_somconnexio', 'multimedia_service', 'product.category', 20, false),
  ('filmin_somconnexio', 'filmin_service', 'product.category', 21, false),
  ('switchboard_somconnexio', 'switchboard_additional_service', 'product.category', 22, false),
  ('switchboard_somconnexio', 'switchboard_extras_service', 'product.category', 23, false),
  ('somconnexio', 'other_products', 'product.category', 30, false),
  ('somconnexio', 'router_product', 'product.product', 16, false),
  ('somconnexio', 'service_technology_mobile', 'service.technology', 1, false),
  ('somconnexio', 'service_technology_fiber', 'service.technology', 2, false),
  ('somconnexio', 'service_technology_adsl', 'service.technology', 3, false),
  ('somconnexio', 'service_technology_4G', 'service.technology', 4, false),
  ('somconnexio', 'service_supplier_masmovil', 'service.supplier', 1, false),
  ('somconnexio', 'service_supplier_vodafone', 'service.supplier', 2, false),
  ('somconnexio', 'service_supplier_orange', 'service.supplier', 3, false),
  ('somconnexio', 'service_supplier_xoln', 'service.supplier', 4, false),
  ('somconnexio', 'service_supplier_asociatel', 'service.supplier', 5, false),
  ('product', 'list0', 'product.pricelist', 1, false),
  ('somconnexio', 'pricelist_without_IVA', 'product.pricelist', 2, false),
  ('l10n_es', '1_account_common_430', 'account.account', 1, false),
  ('l10n_es', '1_account_common_705', 'account.account', 2, false),
  ('l10n_es', '1_account_common_700', 'account.account', 3, false),
  ('l10n_es', '1_account_common_477', 'account.account', 4, false),
  ('l10n_es', '1_account_common_572', 'account.account', 5, false),
  ('l10n_es', '1_account_common_759', 'account.account', 6, false),
  ('l10n_es', '1_account_common_472', 'account.account', 7, false),
  ('invoice_somconnexio', 'customer_services_invoices_journal', 'account.journal', 1, true),
  ('somconnexio', 'consumption_invoices_journal', 'account.journal', 2, true),
  ('l10n_es', '1_account_tax_template_s_iva21s', 'account.tax', 1, false),
  ('l10n_es', '1_account_tax_template_s_iva10b', 'account.tax', 2, false),
  ('l10n_es', '1_account_tax_template_s_iva4b', 'account.tax', 3, false),
  ('l10n_es', '1_account_tax_template_s_iva0', 'account.tax', 4, false),
  ('l10n_es_igic', '1_account_tax_template_igic_r_7', 'account.tax', 5, false),
  ('l10n_es', '1_account_tax_template_p_iva21_bc', 'account.tax', 6, false),
  ('account_banking_sepa_direct_debit', 'sepa_direct_debit', 'account.payment.method', 2, false),
  ('somconnexio', 'payment_mode_inbound_sepa', 'account.payment.mode', 1, true),
  ('somconnexio', 'payment_mode_inbound_transfer', 'account.payment.mode', 2, true),
  ('somconnexio', 'reason_voluntary', 'contract.terminate.reason', 1, false),
  ('somconnexio', 'reason_portability', 'contract.terminate.reason', 2, false),
  ('somconnexio', 'reason_non_payment', 'contract.terminate.reason', 3, false)
ON CONFLICT DO NOTHING;

INSERT INTO ir_model_data (module, name, model, res_id, noupdate)
SELECT 'base', 'state_es_' || lower(code), 'res.country.state', id, false FROM res_country_state WHERE country_id = 68
ON CONFLICT DO NOTHING;

INSERT INTO ir_model_data (module, name, model, res_id, noupdate)
SELECT 'somconnexio', lower(default_code), 'product.product', id, false FROM product_product WHERE id BETWEEN 1 AND 15
ON CONFLICT DO NOTHING;

INSERT INTO ir_model_data (module, name, model, res_id, noupdate)
SELECT 'base', 'bank_' || lower(left(bic, 4)), 'res.bank', id, false FROM res_bank WHERE id BETWEEN 1 AND 7
ON CONFLICT DO NOTHING;

-- Move every id sequence past the fixed ids (never backwards).
DO $$
DECLARE r record; seq text; mx bigint;
BEGIN
  FOR r IN SELECT table_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND column_name = 'id' AND column_default LIKE 'nextval%'
  LOOP
    seq := pg_get_serial_sequence(quote_ident(r.table_name), 'id');
    EXECUTE format('SELECT max(id) FROM %I', r.table_name) INTO mx;
    IF mx IS NOT NULL THEN
      PERFORM setval(seq, greatest(mx, (SELECT last_value FROM pg_sequences
                                          WHERE schemaname || '.' || sequencename = seq OR sequencename = seq)::bigint
                                        ));
    END IF;
  END LOOP;
END $$;
