/**
 * The first super-admin, from configuration, on an empty database only.
 * There is no default account: without the variables nobody is created.
 */
import type { Logger } from "../../domain/logger.js";
import type { Database } from "../../store/database.js";
import { countUsers } from "../../store/queries/users.js";
import type { Register } from "./register.js";

export async function bootstrapSuperAdmin(args: {
  database: Database;
  register: Register;
  logger: Logger;
  email: string | undefined;
  password: string | undefined;
}): Promise<void> {
  const { database, register, logger, email, password } = args;
  if (!email || !password) return;
  if ((await countUsers(database.db)) > 0) return;
  try {
    const user = await register({ email, name: "Administrator", password, superAdmin: true }, { clientAddress: "bootstrap" });
    logger.info("bootstrap.super_admin_created", { user_id: user.id });
  } catch (error) {
    // Two instances starting on one empty database race here; the loser's
    // insert hits the unique email and there is nothing left to do.
    if ((error as { kind?: string }).kind === "already_exists") return;
    throw error;
  }
}
