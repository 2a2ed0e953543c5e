FROM node:14

WORKDIR /usr/src/app
COPY package*.json ./
RUN npm install
RUN npm install lodash@4.17.15 express@4.17.1 axios@0.21.1 minimist@1.2.5
COPY . .

EXPOSE 3000
CMD ["node", "server.js"]
