/* The test guest, linked into the skiff binary so that `skiff run` without
   --kernel boots a microVM with nothing else on disk. */
    .section .rodata.skiff_testguest, "a"
    .balign 16
    .global skiff_testguest_start
    .global skiff_testguest_end
skiff_testguest_start:
    .incbin TESTGUEST_PATH
skiff_testguest_end:
    .section .note.GNU-stack, "", @progbits
