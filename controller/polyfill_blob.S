/* controller/polyfills.js (the ES5 polyfills, controller/polyfill.h), embedded into the
 * controller. */
  .section .rodata
  .global sb_polyfills_js
  .global sb_polyfills_js_end
  .balign 16
sb_polyfills_js:
  .incbin SB_POLYFILLS_PATH
sb_polyfills_js_end:
  .byte 0
  .section .note.GNU-stack,"",@progbits
