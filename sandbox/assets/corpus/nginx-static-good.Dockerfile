FROM nginx:1.25-alpine
COPY --chown=nginx:nginx site/ /usr/share/nginx/html/
COPY nginx.conf /etc/nginx/nginx.conf
EXPOSE 80
HEALTHCHECK --interval=30s CMD wget -qO- http://127.0.0.1/ || exit 1
