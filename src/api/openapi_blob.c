/* Embeds docs/openapi.json (the document /openapi.json serves) into the binary. The path is
 * relative to the repository root, where the build runs. */
__asm__(".section .rodata\n"
        ".global openapi_json\n"
        ".global openapi_json_end\n"
        "openapi_json:\n"
        ".incbin \"docs/openapi.json\"\n"
        "openapi_json_end:\n"
        ".byte 0\n"
        ".previous\n");
