/* babel-standalone 6.26 (npm, pinned by package-lock.json), embedded into the controller. */
  .section .rodata
  .global sb_babel_js
  .global sb_babel_js_end
  .balign 16
sb_babel_js:
  .incbin SB_BABEL_PATH
sb_babel_js_end:
  .byte 0
  .section .note.GNU-stack,"",@progbits
