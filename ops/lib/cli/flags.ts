/** Flags more than one command takes, declared once. */
import { Flag } from "effect/cli"

/** `--json`: one JSON document on stdout instead of text. */
export const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("print JSON for scripts"), Flag.withDefault(false))

/** `--config <file>`: the akis config file (else AKIS_CONFIG, else config/default.yaml). */
export const configFlag = Flag.String("config").pipe(Flag.withDescription("config file (default: AKIS_CONFIG or config/default.yaml)"), Flag.optional)

/** `--dir <dir>` with a default: certificates (`ops certs`). */
export const certDirFlag = Flag.String("dir").pipe(Flag.withDescription("certificate directory"), Flag.withDefault(".akis/certs"))

/** `--dir <dir>` without a default: NATS credentials (`ops nats-auth`, default nats.credsDir). */
export const credsDirFlag = Flag.String("dir").pipe(Flag.withDescription("credentials directory (default: nats.credsDir)"), Flag.optional)
