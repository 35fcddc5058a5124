// Flyway's `migrate` through its own engine (flyway-core), for `make bench-peers`.
//
// Flyway's command line (org.flywaydb:flyway-commandline 13.12.1, org.flywaydb.commandline.Main)
// cannot be assembled from Maven Central: it needs flyway-core-utilities, flyway-command-mcp and
// the flyway-verb-* modules, which Maven Central does not serve. This launcher takes the same
// `-key=value` options as that command line (`-url=`, `-user=`, `-locations=`, ...; any
// `flyway.*` setting), the password from FLYWAY_PASSWORD as the command line does, and runs
// Flyway.migrate(): the same engine, parser, transaction per migration, schema history table,
// checksum validation and lock. Usage:
//   java -cp 'classes:lib/*' FlywayMigrate -url=jdbc:postgresql://HOST:PORT/DB -user=U \
//        -locations=filesystem:DIR migrate
import java.util.HashMap;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;

public final class FlywayMigrate {
    private FlywayMigrate() {}

    public static void main(String[] args) {
        Map<String, String> props = new HashMap<>();
        for (String arg : args) {
            if (arg.equals("migrate")) {
                continue;
            }
            if (!arg.startsWith("-") || !arg.contains("=")) {
                System.err.println("FlywayMigrate: expected -key=value or migrate, got " + arg);
                System.exit(2);
            }
            String[] kv = arg.substring(1).split("=", 2);
            props.put("flyway." + kv[0], kv[1]);
        }
        String password = System.getenv("FLYWAY_PASSWORD");
        if (password != null) {
            props.put("flyway.password", password);
        }
        MigrateResult result = Flyway.configure().configuration(props).load().migrate();
        System.out.println("{\"migrationsExecuted\": " + result.migrationsExecuted
                + ", \"targetSchemaVersion\": \"" + result.targetSchemaVersion + "\"}");
    }
}
