/** A real SMTP server in-process (smtp-server), parsing what it receives (mailparser). */
import { simpleParser, type ParsedMail } from "mailparser"
import { SMTPServer } from "smtp-server"
import { freePort } from "../harness/index.ts"

/** A running SMTP sink. */
export interface SmtpSink {
  readonly port: number
  readonly mails: ParsedMail[]
  /** Envelope recipients of each mail, in order. */
  readonly rcpts: string[][]
  /** When set, every DATA is refused with this SMTP code. */
  refuseWith: number | undefined
  stop(): Promise<void>
}

/** Starts an SMTP server on 127.0.0.1 without TLS or auth. */
export const startSmtpSink = async (): Promise<SmtpSink> => {
  const port = freePort()
  const sink: SmtpSink = {
    port, mails: [], rcpts: [], refuseWith: undefined,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  }
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ["STARTTLS"], logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then((mail) => {
        if (sink.refuseWith) {
          const e = Object.assign(new Error("refused by test"), { responseCode: sink.refuseWith })
          return callback(e)
        }
        sink.mails.push(mail)
        sink.rcpts.push(session.envelope.rcptTo.map((a) => a.address))
        callback()
      }, callback)
    },
  })
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()))
  return sink
}
