/* controller/dashboard.html (the dashboard and report page, controller/dashboard.h), embedded
 * into the controller. */
  .section .rodata
  .global sb_dashboard_html
  .global sb_dashboard_html_end
  .balign 16
sb_dashboard_html:
  .incbin SB_DASHBOARD_PATH
sb_dashboard_html_end:
  .byte 0
  .section .note.GNU-stack,"",@progbits
