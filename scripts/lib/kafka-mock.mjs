/**
 * librdkafka's mock Kafka cluster, hosted by Debian's `kcat` (no Apache Kafka can be installed on
 * the test machines): `kcat -X test.mock.num.brokers=3 -b 127.0.0.1:1 -P -t _rig` with its stdin
 * held open runs 3 brokers on random 127.0.0.1 ports, which librdkafka prints on stderr. kafkajs
 * produces, consumes in consumer groups and commits offsets against it; topics are auto-created on
 * first use. Used by the stream tests (test/e2e/setup/kafka-mock.ts) and `npm run bench` (stream).
 */
import { spawn, spawnSync } from "node:child_process";

/**
 * Starts the mock cluster; resolves to { brokers: "host:port,...", stop() }. Rejects when kcat is
 * missing (scripts/services.sh installs it) or prints no brokers within 15 s.
 */
export function startKafkaMock({ brokers = 3 } = {}) {
  if (spawnSync("kcat", ["-V"]).error) {
    return Promise.reject(new Error("kcat is not installed: it hosts librdkafka's mock Kafka cluster the stream tests use (bash scripts/services.sh installs it with apt)"));
  }
  return new Promise((resolve, reject) => {
    const child = spawn("kcat", ["-X", `test.mock.num.brokers=${brokers}`, "-b", "127.0.0.1:1", "-P", "-t", "_rig"], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`kcat printed no mock brokers within 15 s:\n${stderr}`)), 15_000);
    const stop = () =>
      new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGKILL");
      });
    const fail = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop();
      reject(err);
    };
    child.on("error", fail);
    child.on("exit", (code, signal) => fail(new Error(`kcat exited (${signal ?? code}) before the mock cluster was up:\n${stderr}`)));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const found = /replaced with (\S+)/.exec(stderr);
      if (found && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ brokers: found[1], pid: child.pid, stop });
      }
    });
  });
}
