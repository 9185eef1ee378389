import { z } from "#zod";
import { describeError } from "./errors.js";

/**
 * One line naming what is wrong with a message body, as "path: message" for a schema failure (the first
 * issue; "(body)" when it concerns the body as a whole). A ZodError's own message is its issues as JSON,
 * whose first line is just "[".
 */
export function describeBodyError(e: unknown): string {
  if (e instanceof z.ZodError) {
    const issue = e.issues[0];
    if (issue === undefined) return "(body): invalid";
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "(body)";
    const more = e.issues.length > 1 ? ` (and ${e.issues.length - 1} more)` : "";
    return `${path}: ${issue.message}${more}`;
  }
  return describeError(e).split("\n")[0];
}
