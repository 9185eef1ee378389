import { z } from "#zod";
import { consensusConfigSchema } from "../consensus/config.js";

/**
 * The aggregator configuration's ledger sections (composed into config/schema.ts). Members, keys and
 * broker URLs of the peers come from the CA-signed consortium file; the trading and credit parameters
 * from the CA-signed genesis file: neither is a per-aggregator setting.
 */
export const consortiumSectionSchema = z
  .object({
    /** path of the CA-signed consortium file */
    file: z.string().min(1),
    /** the SQLite block store; default: the aggregator store's path with `.ledger.db` */
    ledgerDb: z.string().min(1).optional(),
    /** when the market announcement goes out, before each interval starts */
    announceLeadMs: z.number().int().min(0).default(1000),
    /** an agent envelope not yet in a committed block is submitted again after this long */
    resubmitMs: z.number().int().min(500).default(10_000),
    /** new ledger transactions one identity may send through this aggregator per market interval */
    txQuotaPerInterval: z.number().int().min(1).max(1_000_000).default(64),
  })
  .strict();

export const genesisSectionSchema = z.object({ file: z.string().min(1) }).strict();

/** Run the credit bank when the genesis lists this aggregator as one (its identity key signs tokens). */
export const bankSectionSchema = z
  .object({ enabled: z.boolean().default(true) })
  .strict()
  .default({ enabled: true });

/** consensus knobs; the consortium comes from `consortium.file` */
export const consensusSectionSchema = consensusConfigSchema.omit({ consortium: true }).partial();

/** What the ledger service reads from the aggregator configuration. */
export interface LedgerServiceConfig {
  consortium: z.infer<typeof consortiumSectionSchema>;
  genesis: z.infer<typeof genesisSectionSchema>;
  bank: z.infer<typeof bankSectionSchema>;
  consensus?: z.infer<typeof consensusSectionSchema> | undefined;
}
