/** Request field rules (required, String(N), format) shared by the Pay routes; a breach is PARAM_ERROR. */
import { PayErrCode, PayRefusal } from '../pay-errors';

/** One request field as the reference's table describes it. */
export interface FieldRule {
  readonly name: string;
  readonly required: boolean;
  /** String(N): N characters at most. */
  readonly maxLength: number;
  readonly pattern?: RegExp;
  /** Shown in err_code_des when `pattern` fails. */
  readonly patternText?: string;
}

/** mch_billno: String(28) of 0-9a-zA-Z (PAY-redpack). */
export const MCH_BILLNO_RULE: FieldRule = { name: 'mch_billno', required: true, maxLength: 28, pattern: /^[0-9A-Za-z]+$/, patternText: '只能包含数字和字母' };

/** Checks every rule; the first breach is refused with PARAM_ERROR naming the field. */
export function checkFields(fields: Readonly<Record<string, string>>, rules: readonly FieldRule[]): void {
  for (const rule of rules) {
    const value = fields[rule.name];
    if (value === undefined || value === '') {
      if (rule.required) throw new PayRefusal(PayErrCode.PARAM_ERROR, `参数错误:${rule.name}字段必填`);
      continue;
    }
    // String(N) counts characters (a Chinese send_name of 10 characters is fine), not UTF-8 bytes.
    if ([...value].length > rule.maxLength) throw new PayRefusal(PayErrCode.PARAM_ERROR, `参数错误:${rule.name}长度不能超过${rule.maxLength}`);
    if (rule.pattern !== undefined && !rule.pattern.test(value)) {
      throw new PayRefusal(PayErrCode.PARAM_ERROR, `参数错误:${rule.name}${rule.patternText ?? '格式错误'}`);
    }
  }
}
