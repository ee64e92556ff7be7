-- Foreign keys, added after every table exists (as Odoo does), named <table>_<column>_fkey like Odoo.
-- Idempotent: a constraint that already exists is left alone.

CREATE OR REPLACE FUNCTION pg_temp.odoo_fk(tbl text, col text, ref text, ondelete text DEFAULT 'SET NULL')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  cname text := tbl || '_' || col || '_fkey';
BEGIN
  IF length(cname) > 63 THEN
    cname := left(cname, 54) || '_' || substr(md5(cname), 1, 8);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = cname AND conrelid = tbl::regclass) THEN
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %I (id) ON DELETE %s',
                   tbl, cname, col, ref, ondelete);
  END IF;
END $$;

-- create_uid / write_uid -> res_users on every Odoo table that has them.
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.table_name, c.column_name
      FROM information_schema.columns c
      JOIN information_schema.tables t USING (table_schema, table_name)
     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
       AND c.column_name IN ('create_uid', 'write_uid')
     ORDER BY 1, 2
  LOOP
    PERFORM pg_temp.odoo_fk(r.table_name, r.column_name, 'res_users', 'SET NULL');
  END LOOP;
END $$;

DO $$ BEGIN
  PERFORM pg_temp.odoo_fk('res_country', 'currency_id', 'res_currency');
  PERFORM pg_temp.odoo_fk('res_country_state', 'country_id', 'res_country', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('res_company', 'partner_id', 'res_partner', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('res_company', 'currency_id', 'res_currency', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('res_company', 'parent_id', 'res_company');
  PERFORM pg_temp.odoo_fk('res_company', 'account_fiscal_country_id', 'res_country');
  PERFORM pg_temp.odoo_fk('res_users', 'partner_id', 'res_partner', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('res_users', 'company_id', 'res_company', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('ir_sequence', 'company_id', 'res_company');
  PERFORM pg_temp.odoo_fk('uom_uom', 'category_id', 'uom_category', 'RESTRICT');
END $$;

DO $$ BEGIN
  PERFORM pg_temp.odoo_fk('res_partner', 'company_id', 'res_company');
  PERFORM pg_temp.odoo_fk('res_partner', 'parent_id', 'res_partner');
  PERFORM pg_temp.odoo_fk('res_partner', 'state_id', 'res_country_state', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('res_partner', 'country_id', 'res_country', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('res_partner', 'commercial_partner_id', 'res_partner');
  PERFORM pg_temp.odoo_fk('res_partner', 'user_id', 'res_users');
  PERFORM pg_temp.odoo_fk('res_bank', 'state', 'res_country_state');
  PERFORM pg_temp.odoo_fk('res_bank', 'country', 'res_country');
  PERFORM pg_temp.odoo_fk('res_partner_bank', 'partner_id', 'res_partner', 'CASCADE');
  PERFORM pg_temp.odoo_fk('res_partner_bank', 'bank_id', 'res_bank');
  PERFORM pg_temp.odoo_fk('res_partner_bank', 'currency_id', 'res_currency');
  PERFORM pg_temp.odoo_fk('res_partner_bank', 'company_id', 'res_company', 'CASCADE');
  PERFORM pg_temp.odoo_fk('account_banking_mandate', 'partner_bank_id', 'res_partner_bank', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_banking_mandate', 'partner_id', 'res_partner');
  PERFORM pg_temp.odoo_fk('account_banking_mandate', 'company_id', 'res_company', 'RESTRICT');
END $$;

DO $$ BEGIN
  PERFORM pg_temp.odoo_fk('product_category', 'parent_id', 'product_category', 'CASCADE');
  PERFORM pg_temp.odoo_fk('product_template', 'categ_id', 'product_category', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('product_template', 'uom_id', 'uom_uom', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('product_template', 'uom_po_id', 'uom_uom', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('product_template', 'company_id', 'res_company');
  PERFORM pg_temp.odoo_fk('product_product', 'product_tmpl_id', 'product_template', 'CASCADE');
  PERFORM pg_temp.odoo_fk('product_pricelist', 'currency_id', 'res_currency', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('product_pricelist', 'company_id', 'res_company');
END $$;

DO $$ BEGIN
  PERFORM pg_temp.odoo_fk('account_account', 'currency_id', 'res_currency');
  PERFORM pg_temp.odoo_fk('account_account', 'company_id', 'res_company', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_journal', 'default_account_id', 'account_account', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_journal', 'suspense_account_id', 'account_account', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_journal', 'currency_id', 'res_currency');
  PERFORM pg_temp.odoo_fk('account_journal', 'company_id', 'res_company', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_tax_group', 'country_id', 'res_country');
  PERFORM pg_temp.odoo_fk('account_tax', 'company_id', 'res_company', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_tax', 'tax_group_id', 'account_tax_group', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_tax', 'country_id', 'res_country', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_payment_mode', 'company_id', 'res_company', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_payment_mode', 'fixed_journal_id', 'account_journal', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_payment_mode', 'payment_method_id', 'account_payment_method', 'RESTRICT');
END $$;

DO $$ BEGIN
  PERFORM pg_temp.odoo_fk('service_technology', 'service_product_category_id', 'product_category');
  PERFORM pg_temp.odoo_fk('contract_group', 'partner_id', 'res_partner');
  PERFORM pg_temp.odoo_fk('adsl_service_contract_info', 'router_product_id', 'product_product', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('router_4g_service_contract_info', 'router_product_id', 'product_product');
  PERFORM pg_temp.odoo_fk('xoln_fiber_service_contract_info', 'router_product_id', 'product_product', 'RESTRICT');
END $$;

DO $$ BEGIN
  PERFORM pg_temp.odoo_fk('contract_contract', 'pricelist_id', 'product_pricelist');
  PERFORM pg_temp.odoo_fk('contract_contract', 'partner_id', 'res_partner', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('contract_contract', 'invoice_partner_id', 'res_partner');
  PERFORM pg_temp.odoo_fk('contract_contract', 'commercial_partner_id', 'res_partner');
  PERFORM pg_temp.odoo_fk('contract_contract', 'journal_id', 'account_journal');
  PERFORM pg_temp.odoo_fk('contract_contract', 'company_id', 'res_company', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('contract_contract', 'user_id', 'res_users');
  PERFORM pg_temp.odoo_fk('contract_contract', 'manual_currency_id', 'res_currency');
  PERFORM pg_temp.odoo_fk('contract_contract', 'terminate_reason_id', 'contract_terminate_reason', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('contract_contract', 'terminate_user_reason_id', 'contract_terminate_user_reason');
  PERFORM pg_temp.odoo_fk('contract_contract', 'service_partner_id', 'res_partner');
  PERFORM pg_temp.odoo_fk('contract_contract', 'mandate_id', 'account_banking_mandate', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('contract_contract', 'payment_mode_id', 'account_payment_mode');
  PERFORM pg_temp.odoo_fk('contract_contract', 'contract_group_id', 'contract_group');
  PERFORM pg_temp.odoo_fk('contract_contract', 'service_technology_id', 'service_technology', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('contract_contract', 'service_supplier_id', 'service_supplier', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('contract_contract', 'mobile_contract_service_info_id', 'mobile_service_contract_info');
  PERFORM pg_temp.odoo_fk('contract_contract', 'vodafone_fiber_service_contract_info_id', 'vodafone_fiber_service_contract_info');
  PERFORM pg_temp.odoo_fk('contract_contract', 'mm_fiber_service_contract_info_id', 'mm_fiber_service_contract_info');
  PERFORM pg_temp.odoo_fk('contract_contract', 'orange_fiber_service_contract_info_id', 'orange_fiber_service_contract_info');
  PERFORM pg_temp.odoo_fk('contract_contract', 'adsl_service_contract_info_id', 'adsl_service_contract_info');
  PERFORM pg_temp.odoo_fk('contract_contract', 'router_4G_service_contract_info_id', 'router_4g_service_contract_info');
  PERFORM pg_temp.odoo_fk('contract_contract', 'xoln_fiber_service_contract_info_id', 'xoln_fiber_service_contract_info');
  PERFORM pg_temp.odoo_fk('contract_contract', 'switchboard_service_contract_info_id', 'switchboard_service_contract_info');
  PERFORM pg_temp.odoo_fk('contract_contract', 'parent_pack_contract_id', 'contract_contract');
  PERFORM pg_temp.odoo_fk('contract_contract_res_partner_rel', 'contract_contract_id', 'contract_contract', 'CASCADE');
  PERFORM pg_temp.odoo_fk('contract_contract_res_partner_rel', 'res_partner_id', 'res_partner', 'CASCADE');
  PERFORM pg_temp.odoo_fk('contract_line', 'contract_id', 'contract_contract', 'CASCADE');
  PERFORM pg_temp.odoo_fk('contract_line', 'product_id', 'product_product');
  PERFORM pg_temp.odoo_fk('contract_line', 'uom_id', 'uom_uom');
  PERFORM pg_temp.odoo_fk('contract_line', 'successor_contract_line_id', 'contract_line');
  PERFORM pg_temp.odoo_fk('contract_line', 'predecessor_contract_line_id', 'contract_line');
END $$;

DO $$ BEGIN
  PERFORM pg_temp.odoo_fk('account_move', 'journal_id', 'account_journal', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move', 'company_id', 'res_company');
  PERFORM pg_temp.odoo_fk('account_move', 'currency_id', 'res_currency', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move', 'partner_id', 'res_partner', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move', 'commercial_partner_id', 'res_partner');
  PERFORM pg_temp.odoo_fk('account_move', 'partner_bank_id', 'res_partner_bank', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move', 'reversed_entry_id', 'account_move');
  PERFORM pg_temp.odoo_fk('account_move', 'invoice_user_id', 'res_users');
  PERFORM pg_temp.odoo_fk('account_move', 'payment_mode_id', 'account_payment_mode', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move', 'mandate_id', 'account_banking_mandate', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move', 'old_contract_id', 'contract_contract');
  PERFORM pg_temp.odoo_fk('account_move', 'contract_group_id', 'contract_group');
  PERFORM pg_temp.odoo_fk('account_move_line', 'move_id', 'account_move', 'CASCADE');
  PERFORM pg_temp.odoo_fk('account_move_line', 'journal_id', 'account_journal');
  PERFORM pg_temp.odoo_fk('account_move_line', 'company_id', 'res_company');
  PERFORM pg_temp.odoo_fk('account_move_line', 'company_currency_id', 'res_currency');
  PERFORM pg_temp.odoo_fk('account_move_line', 'currency_id', 'res_currency', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move_line', 'account_id', 'account_account', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move_line', 'partner_id', 'res_partner', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move_line', 'tax_line_id', 'account_tax', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move_line', 'tax_group_id', 'account_tax_group');
  PERFORM pg_temp.odoo_fk('account_move_line', 'product_id', 'product_product', 'RESTRICT');
  PERFORM pg_temp.odoo_fk('account_move_line', 'product_uom_id', 'uom_uom');
  PERFORM pg_temp.odoo_fk('account_move_line', 'contract_line_id', 'contract_line');
  PERFORM pg_temp.odoo_fk('account_move_line_account_tax_rel', 'account_move_line_id', 'account_move_line', 'CASCADE');
  PERFORM pg_temp.odoo_fk('account_move_line_account_tax_rel', 'account_tax_id', 'account_tax', 'CASCADE');
  PERFORM pg_temp.odoo_fk('contract_account_invoice_line_relation', 'account_invoice_line_id', 'account_move_line', 'CASCADE');
  PERFORM pg_temp.odoo_fk('contract_account_invoice_line_relation', 'contract_id', 'contract_contract', 'CASCADE');
END $$;
