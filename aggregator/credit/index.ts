/** The credit bank (seed 000 §III–IV): pricing, bank state and handlers, and the lending aggregator's service. */

export { checkPaymentForSeller, openWalletKey, signPayment } from "../../protocol/credit-token.js";
export { type CreditConfig, creditConfigSchema, DEFAULT_CREDIT_CONFIG } from "./config.js";
export { CreditError, type CreditErrorCode, isCreditError } from "./errors.js";
export { GRADES, gammaOfGrade, gradeIndex, repaymentAbility } from "./grades.js";
export {
  applyCreditTx,
  type CreditEnv,
  type CreditEvent,
  type CreditResult,
  creditHandlers,
  isCreditTxType,
} from "./handlers.js";
export { CREDIT_MODULE, type CreditModuleOptions, creditModule } from "./module.js";
export type {
  BlacklistPort,
  CreditAccountsPort,
  CreditPorts,
  CreditTxContext,
  IncomeRecord,
} from "./ports.js";
export {
  type BorrowerParams,
  NO_LOAN_REASONS,
  type NoLoanReason,
  offerOrNot,
  priceBorrower,
  type Quote,
  scanBorrower,
} from "./pricing.js";
export { type BankKeys, CreditBankService } from "./service.js";
export { type BankInfo, type CreditState, createCreditState, type Loan, tokenOf } from "./state.js";
