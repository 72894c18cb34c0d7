/* glibdump loads each file named on standard input (one path a line) the way
 * clsync does, with g_key_file_load_from_file, and prints what
 * g_key_file_get_value returns, so glib_test.go can compare Parse with GLib.
 * G_KEY_FILE_KEEP_TRANSLATIONS keeps "key[locale]" keys whatever the
 * environment's locale, as Parse does. Names and values are printed in hex:
 *   "E" on a load error, else "G<group>" per group and "K<key> <value>" per
 *   key, in the order of their first assignment, then "." after each file. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

static void hex(const char *s)
{
	for (; *s; s++)
		printf("%02x", (unsigned char)*s);
}

int main(void)
{
	char path[4096];

	while (fgets(path, sizeof path, stdin) != NULL) {
		GKeyFile *kf = g_key_file_new();
		gchar **groups, **g;

		path[strcspn(path, "\n")] = '\0';
		if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_TRANSLATIONS, NULL)) {
			printf("E\n.\n");
			g_key_file_free(kf);
			continue;
		}
		groups = g_key_file_get_groups(kf, NULL);
		for (g = groups; *g; g++) {
			gchar **keys = g_key_file_get_keys(kf, *g, NULL, NULL), **k;
			/* get_keys lists a key once per assignment */
			GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

			printf("G");
			hex(*g);
			printf("\n");
			for (k = keys; *k; k++) {
				gchar *v;

				if (!g_hash_table_add(seen, *k))
					continue;
				v = g_key_file_get_value(kf, *g, *k, NULL);

				printf("K");
				hex(*k);
				printf(" ");
				hex(v);
				printf("\n");
				g_free(v);
			}
			g_hash_table_destroy(seen);
			g_strfreev(keys);
		}
		g_strfreev(groups);
		g_key_file_free(kf);
		printf(".\n");
	}
	return 0;
}
